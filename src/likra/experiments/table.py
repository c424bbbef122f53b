"""`table` (the paper's Table 1): base, SFT, Likra and Base-Likra accuracy at the end of training, for
every model x benchmark whose `curve` experiment sits in a subfolder of --out (run
`likra experiment curve --out ROOT/NAME` for each, then `likra experiment table --out ROOT`)."""

from __future__ import annotations

import math

from likra.experiments.records import load_record
from likra.experiments.session import Session, log

RULES = ("base", "sft", "likra", "base-likra")


def collect(s: Session) -> list[dict]:
    rows = []
    for record_path in sorted(s.out.glob("*/curve.json")):
        record = load_record(record_path)
        cfg, summary = record["config"], record["summary"]
        final = max(r["examples"] for r in summary)
        row = {"setting": record_path.parent.name, "model": cfg["model"], "trained_on": cfg["benchmark"],
               "evaluated_on": f"{cfg['eval_benchmark']} {cfg['eval_split']}", "questions": cfg["limit"] or "all",
               "examples": final, "seeds": len(record["seeds"])}
        for r in summary:
            if r["examples"] == final and r["rule"] in RULES:
                row.update({r["rule"]: r["mean"], f"{r['rule']}_low": r["low"], f"{r['rule']}_high": r["high"]})
        rows.append(row)
    return rows


def run(s: Session) -> dict:
    from likra.errors import ConfigError
    from likra.io_utils import atomic_write_text

    rows = collect(s)
    if not rows:
        raise ConfigError(f"{s.out}: no */curve.json to collect; run `likra experiment curve --out {s.out}/NAME` for "
                          "each model and benchmark first")
    record = s.write("table", rows, rows)
    atomic_write_text(s.out / "table.md", markdown(rows))
    s.draw(plot, rows)
    log(markdown(rows))
    return record


def _cell(row: dict, rule: str) -> str:
    mean, low, high = row.get(rule), row.get(f"{rule}_low"), row.get(f"{rule}_high")
    if mean is None:
        return "-"
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def markdown(rows: list[dict]) -> str:
    head = "| model | trained on | evaluated on (questions) | examples | seeds | base | SFT | Likra | Base-Likra |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r['model']} | {r['trained_on']} | {r['evaluated_on']} ({r['questions']}) | {r['examples']} | "
                     f"{r['seeds']} | " + " | ".join(_cell(r, rule) for rule in RULES) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], s: Session) -> None:
    """Grouped bars: one group per setting, one bar per rule, 95% interval as error bars."""
    from likra.experiments.plots import COLOURS, LABELS, _figure, save

    fig, ax = _figure("Accuracy at the end of training (mean over seeds, 95% interval)", "setting", "accuracy", False)
    width = 0.8 / len(RULES)
    for k, rule in enumerate(RULES):
        xs = [i + (k - (len(RULES) - 1) / 2) * width for i in range(len(rows))]
        means = [r.get(rule, math.nan) for r in rows]
        err = [[max(0.0, m - (r.get(f"{rule}_low") if r.get(f"{rule}_low") is not None else m))
                for m, r in zip(means, rows)],
               [max(0.0, (r.get(f"{rule}_high") if r.get(f"{rule}_high") is not None else m) - m)
                for m, r in zip(means, rows)]]
        ax.bar(xs, means, width, yerr=err, color=COLOURS[rule], label=LABELS[rule], capsize=2)
    ax.set_xticks(range(len(rows)), [r["setting"] for r in rows], fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    save(fig, s.out / "table.png")
