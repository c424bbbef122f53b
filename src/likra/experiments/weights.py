"""`weights` (the paper's Fig 4): accuracy against the negative head's weight w in L+ - w*L- (and
base - w*L-), at chosen checkpoints, from the score tables alone: no model runs beyond `curve`'s."""

from __future__ import annotations

from likra.experiments.outcomes import Outcomes
from likra.experiments.plots import panels, draw_band, save, band_label
from likra.experiments.session import Session, log, short
from likra.experiments.stats import mean_interval
from likra.scoring.rules import accuracy_sweep
from likra.scoring.table import ScoreTable

RULES = ("likra", "base-likra")


def checkpoints_for(table: ScoreTable, at: tuple[int, ...]) -> list[str]:
    """`at` (examples seen) present in the table, or by default 64, 256 and the final checkpoint."""
    have = table.checkpoints
    wanted = [str(n) for n in at] if at else [c for c in ("64", "256") if c in have] + have[-1:]
    missing = [c for c in wanted if c not in have]
    if missing:
        from likra.errors import ConfigError

        raise ConfigError(f"experiment.at: no checkpoint at {missing} in the runs; they have {have}",
                          field="experiment.at")
    return list(dict.fromkeys(wanted))


def sweep_rows(table: ScoreTable, seed: int, checkpoints: list[str], weights, norm: str) -> list[dict]:
    rows = []
    for cp in checkpoints:
        for rule in RULES:
            for a in accuracy_sweep(table, rule, weights, norm, cp):
                rows.append({"seed": seed, "examples": int(cp), "rule": rule, "weight": a.weight, "accuracy": a.acc,
                             "n": a.n})
    return rows


def peaks(rows: list[dict]) -> list[dict]:
    """Per rule and checkpoint: the w of highest accuracy in each seed (first of ties), and its mean."""
    out = []
    for rule, examples in sorted({(r["rule"], r["examples"]) for r in rows}):
        best = []
        for seed in sorted({r["seed"] for r in rows}):
            mine = [r for r in rows if (r["rule"], r["examples"], r["seed"]) == (rule, examples, seed)]
            best.append(max(mine, key=lambda r: (r["accuracy"], -r["weight"]))["weight"])
        mean, low, high = mean_interval(best)
        out.append({"rule": rule, "examples": examples, "best_w_per_seed": best, "mean": mean, "low": low,
                    "high": high})
    return out


def compared_weights(weights) -> tuple[float, float]:
    """The two weights claim (d) compares, whose per-question outcomes the record keeps: w = 0 (the
    positive head alone) and the swept w nearest the paper's 1."""
    return 0.0, min(weights, key=lambda w: abs(w - 1.0))


def run(s: Session) -> dict:
    rows, outcomes = [], Outcomes()
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed}"):
            table = s.evaluate(s.train(seed))
            checkpoints = checkpoints_for(table, s.cfg.at)
            rows += sweep_rows(table, seed, checkpoints, s.cfg.weights, s.cfg.norm)
            for cp in checkpoints:
                for w in compared_weights(s.cfg.weights):
                    outcomes.add(table, "likra", s.cfg.norm, cp, weight=w, seed=seed, rule="likra")
    rows, extra, summary = s.summarise(rows, {"questions": outcomes.record()}, ("rule", "examples", "weight"),
                                       "accuracy")
    best = peaks(rows)
    record = s.write("weights", rows, summary, {"peak_weight": best, **extra})
    s.draw(plot, summary)
    for p in best:
        log(f"weights: {p['rule']} at {p['examples']} examples peaks at w = {p['mean']:.2f} "
            f"(per seed {p['best_w_per_seed']})")
    return record


def plot(summary: list[dict], s: Session) -> None:
    fig, axes = panels(len(RULES), f"{short(s.cfg.model)}: accuracy against the negative head's weight w "
                                   f"({s.cfg.eval_benchmark} {s.cfg.eval_split}, {band_label(summary)})")
    for ax, rule in zip(axes, RULES):
        for examples in sorted({r["examples"] for r in summary}):
            points = [{"x": r["weight"], **r} for r in summary if (r["rule"], r["examples"]) == (rule, examples)]
            draw_band(ax, points, f"{examples} examples", log2_x=False, clip=(0.0, 1.0))
        ax.set_title({"likra": "Likra: L+ - w L-", "base-likra": "Base-Likra: base - w L-"}[rule], fontsize=9)
        ax.set_xlabel("w (weight of the negative head)")
        ax.set_ylabel("accuracy" + (" (acc_norm)" if s.cfg.norm == "char" else ""))
        ax.legend(fontsize=8)
    save(fig, s.out / "weights.png")
