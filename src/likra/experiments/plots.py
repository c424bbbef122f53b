"""Plots that read without the paper: titled, labelled axes, log2 x for example counts, a legend, and a
95% band across seeds around each mean line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

COLOURS = {"base": "#7f7f7f", "sft": "#1f77b4", "likra": "#d62728", "base-likra": "#ff7f0e", "neg": "#2ca02c"}
LABELS = {"base": "base", "sft": "SFT (positive head)", "likra": "Likra (L+ - w L-)",
          "base-likra": "Base-Likra (base - w L-)"}


def _figure(title: str, xlabel: str, ylabel: str, log2_x: bool):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.set_title(wrap(title), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    style_axes(ax, log2_x)
    return fig, ax


def style_axes(ax, log2_x: bool = True) -> None:
    """log2 x axis for example counts, and a light grid: every experiment plot's frame."""
    if log2_x:
        ax.set_xscale("log", base=2)
    ax.grid(alpha=0.3)


def wrap(title: str, width: int = 95) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(title, width))


def seeds_label(summary: Sequence[dict]) -> str:
    """'3 seeds', or '1-3 seeds (per line in the legend)' when lines differ: from the summary rows' own
    seed counts, so a record built from the finished runs never claims the seeds it was asked for."""
    ns = sorted({r["seeds"] for r in summary if "seeds" in r})
    if not ns:
        return "no seeds"
    lo, hi = ns[0], ns[-1]
    return f"{hi} seed{'s' * (hi > 1)}" if lo == hi else f"{lo}-{hi} seeds (per line in the legend)"


def band_label(summary: Sequence[dict]) -> str:
    """seeds_label plus what the shading is: '3 seeds, 95% band', or '1 seed, no band' where no line has
    two seeds to draw an interval from (a one-seed plot must not promise a band it lacks)."""
    most = max((r["seeds"] for r in summary if "seeds" in r), default=0)
    return f"{seeds_label(summary)}, {'95% band' if most > 1 else 'no band'}"


def _with_seeds(label: str, points: Sequence[dict], differ: bool) -> str:
    n = max((p.get("seeds", 0) for p in points), default=0)
    return f"{label} ({n} seed{'s' * (n > 1)})" if differ and n else label


def y_range(series: dict[str, list[dict]], hlines: dict[str, dict], clip: tuple[float, float] | None,
             widest: float = 0.15) -> tuple[float, float] | None:
    """The means and every band at most `widest` either side of its mean, padded: a band from two seeds
    (t with 1 degree of freedom: 12.7 standard errors) would otherwise flatten every line; it runs off
    the frame instead, visibly cut."""
    ys = [p["mean"] for pts in series.values() for p in pts] + [r["mean"] for r in hlines.values()]
    ys += [v for pts in series.values() for p in pts if not math.isnan(p["low"]) and p["high"] - p["mean"] <= widest
           for v in (p["low"], p["high"])]
    ys = [y for y in ys if not math.isnan(y)]
    if not ys:
        return None
    pad = max(0.02, 0.08 * (max(ys) - min(ys)))
    lo, hi = min(ys) - pad, max(ys) + pad
    return (_clip(lo, clip), _clip(hi, clip)) if clip else (lo, hi)


def _clip(v: float, clip: tuple[float, float] | None) -> float:
    return v if clip is None or math.isnan(v) else min(max(v, clip[0]), clip[1])


def band_plot(series: dict[str, list[dict]], path: str | Path, title: str, xlabel: str, ylabel: str,
              log2_x: bool = True, hlines: dict[str, dict] | None = None, chance: float | None = None,
              colours: dict[str, str] | None = None, labels: dict[str, str] | None = None,
              clip: tuple[float, float] | None = (0.0, 1.0), dashed: Sequence[str] = ()) -> Path:
    """One line per series (points {'x', 'mean', 'low', 'high'} and optionally 'seeds'), a shaded 95% band
    where it is known (clipped to `clip`: an accuracy interval from few seeds can reach past 0 or 1);
    `hlines` are flat references (e.g. the base model: {'mean', 'low', 'high'}). Where lines have
    different numbers of seeds, each label says its own. Series in `dashed` are drawn dashed (e.g. a
    second rule on the same head, in that head's colour)."""
    fig, ax = _figure(title, xlabel, ylabel, log2_x)
    draw_series(ax, series, hlines=hlines, chance=chance, colours=colours, labels=labels, clip=clip, dashed=dashed)
    if (ylim := y_range(series, hlines or {}, clip)) is not None:
        ax.set_ylim(*ylim)
    return save(fig, path)


def draw_series(ax, series: dict[str, list[dict]], hlines: dict[str, dict] | None = None, chance: float | None = None,
                colours: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                clip: tuple[float, float] | None = (0.0, 1.0), dashed: Sequence[str] = (), differ: bool | None = None,
                legend: str = "best") -> None:
    """`band_plot`'s lines, bands, references and legend on one axes (a panel of a larger figure).
    `differ`: whether labels say their seeds (default: when these series' seed counts differ)."""
    colours, labels = {**COLOURS, **(colours or {})}, {**LABELS, **(labels or {})}
    if differ is None:
        differ = len({max((p.get("seeds", 0) for p in pts), default=0) for pts in series.values()}) > 1
    for name, ref in (hlines or {}).items():
        c = colours.get(name, "#555555")
        ax.axhline(ref["mean"], color=c, linestyle="--", linewidth=1, label=labels.get(name, name))
        if ref.get("low") is not None and not math.isnan(ref["low"]):
            ax.axhspan(_clip(ref["low"], clip), _clip(ref["high"], clip), color=c, alpha=0.08)
    for name, points in series.items():
        points = sorted(points, key=lambda p: p["x"])
        xs = [p["x"] for p in points]
        c = colours.get(name)
        ax.plot(xs, [p["mean"] for p in points], marker="o", markersize=3, color=c,
                linestyle="--" if name in dashed else "-", label=_with_seeds(labels.get(name, name), points, differ))
        if all(not math.isnan(p["low"]) for p in points):
            ax.fill_between(xs, [_clip(p["low"], clip) for p in points], [_clip(p["high"], clip) for p in points],
                            color=c, alpha=0.18)
    if chance is not None:
        ax.axhline(chance, color="black", linestyle=":", linewidth=0.8, label="chance")
    ax.legend(fontsize=8 if len(series) < 8 else 7, loc=legend)


def panels(n: int, title: str, sharey: bool = False, height: float = 4.4):
    """A row of `n` panels sharing a title (for per-head plots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, height), squeeze=False, sharey=sharey)
    fig.suptitle(wrap(title, 60 * n), fontsize=9)
    return fig, list(axes[0])


def draw_band(ax, points: Sequence[dict], label: str, colour: str | None = None, log2_x: bool = True,
              clip: tuple[float, float] | None = None) -> None:
    points = sorted(points, key=lambda p: p["x"])
    xs = [p["x"] for p in points]
    line, = ax.plot(xs, [p["mean"] for p in points], marker="o", markersize=3, color=colour, label=label)
    if all(not math.isnan(p["low"]) for p in points):
        ax.fill_between(xs, [_clip(p["low"], clip) for p in points], [_clip(p["high"], clip) for p in points],
                        color=line.get_color(), alpha=0.18)
    style_axes(ax, log2_x)


def save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    from likra.io_utils import atomic_path

    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # never half a PNG beside a finished record
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
