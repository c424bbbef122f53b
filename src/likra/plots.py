"""Figures from an evaluation report: accuracy per rule, and learning curves when several checkpoints."""

from __future__ import annotations

from pathlib import Path

LABELS = {"base": "base", "sft": "SFT", "likra": "Likra", "base-likra": "Base-Likra"}
COLOURS = {"base": "#888888", "sft": "#1f77b4", "likra": "#d62728", "base-likra": "#ff7f0e"}


def plot_report(rep: dict, path: str | Path, title: str = "", metric: str = "acc_norm") -> Path:
    """Bars (one checkpoint) or lines over examples seen (several), with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rep["results"] if r["weight"] == 1.0 or "likra" not in r["rule"]]
    cps = sorted({r["checkpoint"] for r in rows}, key=lambda c: int(c) if c.isdigit() else 1 << 60)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    if len(cps) <= 1:
        _bars(ax, rows, metric)
    else:
        _curves(ax, rows, cps, metric)
    ax.set_ylabel(f"{metric} (95% CI)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _bars(ax, rows, metric):
    for i, r in enumerate(rows):
        v, lo, hi = r[metric], r[f"{metric}_low"], r[f"{metric}_high"]
        ax.bar(i, v, color=COLOURS.get(r["rule"], "#444"), yerr=[[v - lo], [hi - v]], capsize=4)
        ax.text(i, hi + 0.01, f"{v:.3f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(rows)), [LABELS.get(r["rule"], r["rule"]) for r in rows])
    ax.set_ylim(0, 1)


def _curves(ax, rows, cps, metric):
    xs = [int(c) for c in cps]
    for rule in dict.fromkeys(r["rule"] for r in rows):
        pts = {r["checkpoint"]: r for r in rows if r["rule"] == rule}
        ys = [pts[c][metric] for c in cps]
        lo = [pts[c][f"{metric}_low"] for c in cps]
        hi = [pts[c][f"{metric}_high"] for c in cps]
        ax.plot(xs, ys, marker="o", label=LABELS.get(rule, rule), color=COLOURS.get(rule))
        ax.fill_between(xs, lo, hi, alpha=0.15, color=COLOURS.get(rule))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training examples seen per head")
    ax.legend()
