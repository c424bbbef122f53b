"""`negatives` (the paper's Fig 5): Likra curves with negative heads trained on different kinds of wrong
answers, all paired with the same positive head (`curve`'s, per seed): near-miss (a random wrong
choice; its hardest and easiest variants by the base model's score), irrelevant (another question's
answer), unrelated (an answer from another benchmark) and mined (wrong answers the base model itself
samples for the same questions: experiments/mined.py)."""

from __future__ import annotations

from likra.experiments.outcomes import Outcomes
from likra.experiments.plots import band_plot, band_label
from likra.experiments.session import Session, log, short
from likra.experiments.stats import format_interval
from likra.scoring.rules import accuracy
from likra.scoring.table import ScoreTable

COLOURS = {"near-miss": "#d62728", "hardest": "#9467bd", "easiest": "#e377c2", "irrelevant": "#ff7f0e",
           "unrelated": "#8c564b", "mined": "#2ca02c", "sft": "#1f77b4"}


def paired(pos_table: ScoreTable, neg_table: ScoreTable) -> ScoreTable:
    """Base and pos rows of one table with the neg rows of another, at the checkpoints both have;
    checked like any table (same questions, choices and gold on both sides). A negative head whose data
    is smaller ends where the positive head saved nothing (`mined`: only the questions with a wrong
    sample, e.g. 981 of 1024): its final checkpoint is paired with the positive head's final one, under
    the positive head's count: both heads at the end of one epoch over the same training questions."""
    from dataclasses import replace

    from likra.scoring.table import validate

    ends = final_pair(pos_table, neg_table)
    neg_rows = [replace(r, checkpoint=ends[1]) if ends and r.checkpoint == ends[0] else r
                for r in neg_table if r.head == "neg"]
    common = set(pos_table.checkpoints) & {r.checkpoint for r in neg_rows}
    rows = [r for r in pos_table if r.head == "base" or (r.head == "pos" and r.checkpoint in common)]
    rows += [r for r in neg_rows if r.checkpoint in common]
    table = ScoreTable(rows)
    validate(table)
    return table


def final_pair(pos_table: ScoreTable, neg_table: ScoreTable) -> tuple[str, str] | None:
    """(the negative head's final checkpoint, the positive head's) when neither head saved at the other's
    end; None when the two end together."""
    pos, neg = pos_table.checkpoints, neg_table.checkpoints
    if pos and neg and neg[-1] not in pos and pos[-1] not in neg:
        return neg[-1], pos[-1]
    return None


def rows_for(table: ScoreTable, seed: int, kind: str, norm: str, outcomes: Outcomes) -> list[dict]:
    rows = []
    for cp in table.checkpoints:
        series = [(kind, "likra"), (kind, "base-likra")] + ([("sft", "sft")] if kind == "near-miss" else [])
        for name, rule in series:  # near-miss also carries the shared positive head's own curve, for reference
            a = accuracy(table, rule, 1.0, norm, cp)
            rows.append({"seed": seed, "kind": name, "rule": rule, "examples": int(cp), "accuracy": a.acc, "n": a.n})
            outcomes.add(table, rule, norm, cp, seed=seed, kind=name, rule=rule)
    return rows


def run(s: Session) -> dict:
    rows, outcomes, ends_early = [], Outcomes(), []
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed} (every kind: the positive head)"):
            curve_table = s.evaluate(s.train(seed))
            for kind in s.cfg.negative_kinds:
                with s.unit(f"{kind} seed {seed}"):
                    neg_table = curve_table if kind == "near-miss" else s.evaluate(s.train(seed, kind))
                    rows += rows_for(paired(curve_table, neg_table), seed, kind, s.cfg.norm, outcomes)
                    if ends := final_pair(curve_table, neg_table):
                        ends_early.append({"seed": seed, "kind": kind, "neg_examples": int(ends[0]),
                                           "at": int(ends[1])})
                        log(f"negatives: {kind} seed {seed}: the negative head ends at {ends[0]} examples; its final "
                            f"checkpoint pairs with the positive head's, at {ends[1]}")
    extra = {"questions": outcomes.record(), "ends_early": ends_early}
    rows, extra, summary = s.summarise(rows, extra, ("kind", "rule", "examples"), "accuracy")
    record = s.write("negatives", rows, summary, extra)
    s.draw(plot, summary)
    final = max(r["examples"] for r in summary)
    for r in sorted((r for r in summary if r["examples"] == final and r["rule"] in ("likra", "sft")),
                    key=lambda r: -r["mean"]):
        log(f"negatives: {r['kind']:<10} at {final} examples: {format_interval(r['mean'], r['low'], r['high'])}")
    return record


def plot(summary: list[dict], s: Session) -> None:
    series = {kind: [{"x": r["examples"], **r} for r in summary if r["kind"] == kind and r["rule"] in ("likra", "sft")]
              for kind in dict.fromkeys(r["kind"] for r in summary)}
    labels = {k: f"Likra, {k} negatives" for k in series} | {"sft": "SFT (positive head alone)"}
    c = s.cfg
    band_plot(series, s.out / "negatives.png",
              f"{short(c.model)}: Likra by kind of negative ({c.eval_benchmark} {c.eval_split}, {band_label(summary)})",
              "training examples per head (log2)", "accuracy" + (" (acc_norm)" if c.norm == "char" else ""),
              colours=COLOURS, labels=labels)
