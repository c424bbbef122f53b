"""`curve` (the paper's Figs 1 and 3): accuracy against training examples for base, SFT, Likra and
Base-Likra, from the checkpoints of one constant-LR run per head and seed; mean line, 95% band across
seeds. Also the per-example gain of negatives against positives (docs/RESULTS.md defines it)."""

from __future__ import annotations

from likra.experiments.outcomes import Outcomes
from likra.experiments.plots import band_plot, band_label
from likra.experiments.session import Session, log, short
from likra.experiments.stats import format_interval, mean_interval
from likra.scoring.rules import accuracy
from likra.scoring.table import ScoreTable

RULES = ("base", "sft", "likra", "base-likra")
WINDOW = (64, 256)  # the paper's critical phase


def accuracy_rows(table: ScoreTable, seed: int, norm: str) -> list[dict]:
    """Per checkpoint and rule: accuracy at w = 1 (acc_norm with norm 'char'), one row each."""
    rows = []
    for cp in table.checkpoints:
        for rule in RULES:
            a = accuracy(table, rule, 1.0, norm, cp)
            rows.append({"seed": seed, "examples": int(cp), "rule": rule, "accuracy": a.acc, "low": a.low,
                         "high": a.high, "n": a.n})
    return rows


def gains(rows: list[dict], window: tuple[int, int]) -> dict:
    """Accuracy gained per added example between `window`'s two example counts, per seed:
    positives  g+ = dSFT / dn                     (SFT sees only positives)
    negatives  g- = d(Likra - SFT) / dn           (what the n negatives add on top of n positives)
    neg-only   g-0 = dBase-Likra / dn             (negatives alone, on the base model)
    and the ratios g-/g+ and g-0/g+, each with its mean and 95% interval across seeds."""
    a, b = window
    acc = {(r["seed"], r["rule"], r["examples"]): r["accuracy"] for r in rows}
    per_seed = []
    for seed in sorted({r["seed"] for r in rows}):
        get = lambda rule, n: acc.get((seed, rule, n))  # noqa: E731
        if any(get(rule, n) is None for rule in ("sft", "likra", "base-likra") for n in (a, b)):
            continue
        pos = (get("sft", b) - get("sft", a)) / (b - a)
        neg = ((get("likra", b) - get("sft", b)) - (get("likra", a) - get("sft", a))) / (b - a)
        neg0 = (get("base-likra", b) - get("base-likra", a)) / (b - a)
        per_seed.append({"seed": seed, "pos": pos, "neg": neg, "neg_only": neg0,
                         "ratio": neg / pos if pos else float("nan"),
                         "ratio_neg_only": neg0 / pos if pos else float("nan")})
    out = {"window": list(window), "per_seed": per_seed}
    for key in ("pos", "neg", "neg_only", "ratio", "ratio_neg_only"):
        out[key] = dict(zip(("mean", "low", "high"), mean_interval([s[key] for s in per_seed])))
    return out


def largest_jump(summary: list[dict]) -> tuple[int, int] | None:
    """The doubling n -> 2n with the largest rise of mean Likra accuracy."""
    likra = {s["examples"]: s["mean"] for s in summary if s["rule"] == "likra"}
    steps = [(n, 2 * n) for n in likra if 2 * n in likra]
    return max(steps, key=lambda w: likra[w[1]] - likra[w[0]]) if steps else None


def run(s: Session) -> dict:
    rows, outcomes = [], Outcomes()
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed}"):
            table = s.evaluate(s.train(seed))
            rows += accuracy_rows(table, seed, s.cfg.norm)
            for cp in table.checkpoints:
                for rule in RULES:
                    outcomes.add(table, rule, s.cfg.norm, cp, seed=seed, rule=rule)
    rows, extra, summary = s.summarise(rows, {"questions": outcomes.record()}, ("rule", "examples"), "accuracy")
    present = {r["examples"] for r in summary}
    windows = [w for w in (WINDOW, largest_jump(summary)) if w and set(w) <= present]
    extra = {"gain": [gains(rows, w) for w in dict.fromkeys(windows)], **extra}
    record = s.write("curve", rows, summary, extra)
    s.draw(plot, summary)
    for g in extra["gain"]:
        log(f"curve: {g['window'][0]}->{g['window'][1]} examples: gain per positive {fmt(g['pos'])}, per negative "
            f"{fmt(g['neg'])}, ratio {fmt(g['ratio'])}")
    return record


def fmt(m: dict) -> str:
    return format_interval(m["mean"], m["low"], m["high"], spec=".4g")


def plot(summary: list[dict], s: Session) -> None:
    series = {rule: [{"x": r["examples"], **r} for r in summary if r["rule"] == rule] for rule in RULES[1:]}
    base = next((r for r in summary if r["rule"] == "base"), None)
    c = s.cfg
    metric = "acc_norm (per-character)" if c.norm == "char" else "acc"
    band_plot(series, s.out / "curve.png",
              f"{short(c.model)}: {c.eval_benchmark} {c.eval_split} ({c.limit or 'all'} questions), heads trained on "
              f"{c.benchmark}; {band_label(summary)}", "training examples per head (log2)",
              f"accuracy, {metric}", hlines={"base": base} if base else None)
