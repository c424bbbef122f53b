"""`objectives` (issue 13): every objective that learns from negatives on the same data, the same seeds
and the same examples-seen checkpoints: Likra, SFT and Base-Likra from `curve`'s runs, and one head per
preference objective (unlikelihood, dpo, simpo, orpo, kto, infonca), each scored by its own
per-character log-likelihood and, for those trained against the base model, by the implicit reward
(head minus base)."""

from __future__ import annotations

from likra.experiments.outcomes import Outcomes
from likra.experiments.plots import draw_series, panels, save, band_label, style_axes, y_range
from likra.experiments.session import Session, log, short
from likra.experiments.curve import WINDOW
from likra.experiments.stats import format_interval, mean_interval
from likra.scoring.rules import accuracy
from likra.scoring.table import ScoreTable

PALETTE = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#98df8a", "#c5b0d5",
           "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d")
"""Colours of the objectives' lines, none of Likra's, SFT's or Base-Likra's."""
REWARD_SUFFIX = " (reward)"
"""A reference-based objective's head read by its implicit reward (head - base) is named `name + this`."""
REFERENCE_BASED = {"dpo", "kto", "infonca"}  # trained on log-ratios to the base model: their reward is head - base


def method_rows(table: ScoreTable, seed: int, method: str, rules: dict[str, str], norm: str,
                outcomes: Outcomes) -> list[dict]:
    """Accuracy at every checkpoint of each (label -> rule) for one method's table."""
    rows = []
    for cp in table.checkpoints:
        for label, rule in rules.items():
            a = accuracy(table, rule, 1.0, norm, cp)
            rows.append({"seed": seed, "method": label, "objective": method, "rule": rule, "examples": int(cp),
                         "accuracy": a.acc, "n": a.n})
            outcomes.add(table, rule, norm, cp, seed=seed, method=label)
    return rows


def run(s: Session) -> dict:
    rows, outcomes = [], Outcomes()
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed}"):
            rows += method_rows(s.evaluate(s.train(seed)), seed, "nll",
                                {"Likra": "likra", "SFT": "sft", "Base-Likra": "base-likra"}, s.cfg.norm, outcomes)
        for name in s.cfg.objectives:
            rules = {name: "sft"} | ({name + REWARD_SUFFIX: "reward"} if name in REFERENCE_BASED else {})
            with s.unit(f"{name} seed {seed}"):
                rows += method_rows(s.evaluate(s.train(seed, objective=name)), seed, name, rules, s.cfg.norm, outcomes)
    rows, extra, summary = s.summarise(rows, {"questions": outcomes.record()}, ("method", "examples"), "accuracy")
    record = s.write("objectives", rows, summary, {"steps": steps(rows, summary), **extra})
    s.draw(plot, summary)
    final = max(r["examples"] for r in summary)
    for r in sorted((r for r in summary if r["examples"] == final), key=lambda r: -r["mean"]):
        log(f"objectives: {r['method']:<20} at {final} examples: {format_interval(r['mean'], r['low'], r['high'])}")
    for st in record["steps"]:
        a, b = st["largest_jump"]
        critical = (f"; {WINDOW[0]}->{WINDOW[1]}: {format_interval(*st['critical'].values())}"
                    if "critical" in st else "")
        log(f"objectives: {st['method']:<20} largest rise {a}->{b}: {format_interval(*st['jump'].values())}{critical}")
    return record


def steps(rows: list[dict], summary: list[dict]) -> list[dict]:
    """Does each method learn in a step, as Likra does? Per method: the doubling n -> 2n where its mean
    accuracy rises most (descriptive: the largest of several rises is biased upward), and the rise over
    the paper's critical window (64 -> 256, fixed in advance), each paired by seed with its 95% interval."""
    out = []
    for method in dict.fromkeys(r["method"] for r in summary):
        means = {r["examples"]: r["mean"] for r in summary if r["method"] == method}
        doublings = [(n, 2 * n) for n in sorted(means) if 2 * n in means]
        if not doublings:
            continue
        jump = max(doublings, key=lambda w: means[w[1]] - means[w[0]])
        entry = {"method": method, "largest_jump": list(jump), "jump": rise(rows, method, jump)}
        if set(WINDOW) <= set(means):
            entry["critical"] = rise(rows, method, WINDOW)
            if method != "SFT":
                entry["per_example_beyond_sft"] = beyond_sft(rows, method, WINDOW)
        out.append(entry)
    return out


def beyond_sft(rows: list[dict], method: str, window: tuple[int, int]) -> dict:
    """Which learns most per negative example? Over `window`, the rise of (method - SFT) per added example,
    paired by seed: what the negatives add on top of learning the same positives by NLL, per example (for
    Likra it is claim (b)'s g-; each objective sees one negative with each positive, InfoNCA all of them)."""
    acc = {(r["seed"], r["method"], r["examples"]): r["accuracy"] for r in rows}
    a, b = window
    seeds = sorted({r["seed"] for r in rows if r["method"] == method})
    keys = [(seed, m, n) for seed in seeds for m in (method, "SFT") for n in window]
    per = [((acc[(s, method, b)] - acc[(s, "SFT", b)]) - (acc[(s, method, a)] - acc[(s, "SFT", a)])) / (b - a)
           for s in seeds if all(k in acc for k in keys if k[0] == s)]
    return dict(zip(("mean", "low", "high"), mean_interval(per)))


def beyond_sft_over_questions(record: dict, method: str, window: tuple[int, int]) -> tuple | None:
    """`beyond_sft` question by question: the crossed interval (seeds x questions) of the per-example
    rise of (method - SFT) over `window`, from the record's outcomes; None without them."""
    from likra.experiments.outcomes import rise_matrix
    from likra.experiments.stats import crossed_interval

    matrix = rise_matrix(record, window, {"method": method}, minus={"method": "SFT"})
    return crossed_interval(matrix) if matrix else None


def rise(rows: list[dict], method: str, window: tuple[int, int]) -> dict:
    """Accuracy at window[1] minus at window[0], per seed; mean and 95% interval across seeds."""
    acc = {(r["seed"], r["examples"]): r["accuracy"] for r in rows if r["method"] == method}
    a, b = window
    diffs = [acc[(seed, b)] - acc[(seed, a)] for seed in sorted({k[0] for k in acc})
             if (seed, a) in acc and (seed, b) in acc]
    return dict(zip(("mean", "low", "high"), mean_interval(diffs)))


def plot(summary: list[dict], s: Session) -> None:
    """Two panels on one y axis: each head read by its own likelihood, and the reference-based heads read
    by their implicit reward (dashed, in the head's colour); Likra, SFT and Base-Likra in both, to read
    every line against them. Twelve lines in one frame hid each other."""
    methods = list(dict.fromkeys(r["method"] for r in summary))
    series = {m: [{"x": r["examples"], **r} for r in summary if r["method"] == m] for m in methods}
    colours = {"Likra": "#d62728", "SFT": "#1f77b4", "Base-Likra": "#ff7f0e"}
    # each objective a colour of its own; its implicit reward (the same head, read another way) that colour, dashed
    rewards = [m for m in methods if m.endswith(REWARD_SUFFIX) and m[:-len(REWARD_SUFFIX)] in methods]
    others = [m for m in methods if m not in colours and m not in rewards]
    colours |= dict(zip(others, PALETTE * (1 + len(others) // len(PALETTE))))
    colours |= {m: colours[m[:-len(REWARD_SUFFIX)]] for m in rewards}
    refs = [m for m in methods if m in ("Likra", "SFT", "Base-Likra")]
    c = s.cfg
    fig, axes = panels(2 if rewards else 1, f"{short(c.model)}: objectives that learn from negatives, same data and "
                       f"checkpoints ({c.eval_benchmark} {c.eval_split}, {c.limit or 'all'} questions, "
                       f"{band_label(summary)})", sharey=True, height=5.0)
    differ = len({r["seeds"] for r in summary if "seeds" in r}) > 1
    groups = [("each head by its own log-likelihood", [m for m in methods if m not in rewards])]
    if rewards:
        groups.append(("reference-based heads by their implicit reward (head - base)", refs + rewards))
    for ax, (subtitle, names) in zip(axes, groups):
        draw_series(ax, {m: series[m] for m in names}, colours=colours, labels={m: m for m in methods},
                    dashed=rewards, differ=differ, legend="upper left")
        ax.set_title(subtitle, fontsize=9)
        style_axes(ax)
        ax.set_xlabel("training questions (log2)")
    axes[0].set_ylabel("accuracy" + (" (acc_norm)" if c.norm == "char" else ""))
    if (ylim := y_range(series, {}, (0.0, 1.0))) is not None:
        axes[0].set_ylim(*ylim)
    save(fig, s.out / "objectives.png")
