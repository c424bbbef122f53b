"""Benchmark: a report over a big score table, the row-by-row rules vs the columnar ones (issue 12).

The job: `likra.evaluate.report` with a 50-weight sweep (0 to 1.5) of every rule at every checkpoint,
acc and acc_norm, on a table the size of the ARC learning curve: 1172 questions x 4 choices under
base, and under pos and neg at 12 checkpoints (117,200 rows). Synthetic log-likelihoods; only the
table's size and shape matter here.
  - baseline: the rules as they were before the table went columnar, copied below (`old_*`): every
    accuracy scans all rows in Python (ScoreTable.select), then builds dicts per question.
  - likra: `report` from a fresh ScoreTable, so building its numpy columns is inside the timing.
Both sides run in this process on the same table; their report dicts must be identical (this exits 1
otherwise). likra's side runs before and after the baseline, and its mean is reported, so a change
of load on a shared machine hits both sides alike. Wall and process CPU time are both reported.

    python benchmarks/bench_report.py --out /tmp/bench_report.json
    python benchmarks/bench_report.py --quick          # small table: a smoke run for the tests
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

from likra.evaluate import available_rules, report
from likra.scoring.rules import RULES, Accuracy, wilson_interval
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable, validate


# ---- BASELINE: the rules as they were (likra.scoring.rules and evaluate.report before issue 12) ------

def old_select(table: ScoreTable, head: str, checkpoint: str | None) -> list[ScoreRow]:
    return [r for r in table.rows
            if r.head == head and (head == "base" or checkpoint is None or r.checkpoint == checkpoint)]


def old_normalised(row: ScoreRow, norm: str) -> float:
    if norm == "none":
        return row.logprob
    denom = {"char": row.n_chars, "token": row.n_tokens, "byte": row.n_bytes}[norm]
    return row.logprob / max(denom, 1)


def old_choice_scores(table, rule, weight=1.0, norm="char", checkpoint=None):
    heads, combine = RULES[rule]
    per_head = {}
    for head in heads:
        rows = old_select(table, head, checkpoint)
        if not rows:
            raise ValueError(f"rule {rule!r} needs head {head!r} at checkpoint {checkpoint!r}, absent from the table")
        per_head[head] = {(r.benchmark, r.question_id, r.choice): r for r in rows}
    keys = set.intersection(*(set(d) for d in per_head.values()))
    out = {}
    for bench, qid, choice in sorted(keys, key=lambda k: (k[0], k[1], k[2])):
        vals = {h: old_normalised(per_head[h][(bench, qid, choice)], norm) for h in heads}
        scores, gold = out.setdefault((bench, qid), ([], -1))
        if choice != len(scores):
            raise ValueError(f"question {qid}: choice {choice} missing for some head")
        scores.append(combine(vals, weight))
        if per_head[heads[0]][(bench, qid, choice)].gold:
            out[(bench, qid)] = (scores, choice)
    return out


def old_accuracy(table, rule, weight=1.0, norm="char", checkpoint=None) -> Accuracy:
    preds = {key: (max(range(len(s)), key=lambda i: (s[i], -i)), gold)
             for key, (s, gold) in old_choice_scores(table, rule, weight, norm, checkpoint).items()}
    correct = sum(p == g for p, g in preds.values())
    low, high = wilson_interval(correct, len(preds))
    return Accuracy(rule, weight, norm, correct, len(preds), low, high)


def old_report(table: ScoreTable, weights=(1.0,)) -> dict:
    rows = []
    for cp in table.checkpoints or ["-"]:
        for rule in available_rules(table):
            for w in (weights if "likra" in rule else (1.0,)):
                entry = {"checkpoint": cp, "rule": rule, "weight": w}
                for key, norm in (("acc", "none"), ("acc_norm", "char")):
                    a = old_accuracy(table, rule, w, norm, None if cp == "-" else cp)
                    entry.update({key: a.acc, f"{key}_low": a.low, f"{key}_high": a.high, "n": a.n})
                rows.append(entry)
    return {"results": rows}


# ---- the table ----------------------------------------------------------------------------------------

def checkpoint_names(n: int) -> list[str]:
    """0, 8, 16, ... doubling, then 6604 (all ARC training questions) last: the learning curve's."""
    doubling = [str(8 << i) for i in range(max(0, n - 2))]
    return (["0", *doubling, "6604"] if n > 1 else ["6604"])[:n]


def synthetic_rows(n_questions: int, n_choices: int, checkpoints: list[str], seed: int) -> list[ScoreRow]:
    """Rows in the engine's order (base pass, then pos and neg at each checkpoint). Each trained head's
    log-likelihood is the base one moved a little, so the rules disagree on some questions."""
    rng = random.Random(seed)
    shape = []
    for i in range(n_questions):
        chars = [rng.randint(3, 80) for _ in range(n_choices)]
        shape.append((f"Mercury_{i:05d}", chars, [max(1, c // 4) for c in chars], rng.randrange(n_choices),
                      [-rng.uniform(2, 40) for _ in range(n_choices)]))
    rows = []

    def scored(head, cp, shift):
        for qid, chars, tokens, gold, base in shape:
            for c in range(n_choices):
                lp = min(0.0, base[c] + shift * (c == gold) + rng.gauss(0, 1.5))
                rows.append(ScoreRow(qid, "arc_challenge", c, head, cp, lp, tokens[c], chars[c], chars[c],
                                     c == gold, False))

    scored("base", BASE_CHECKPOINT, 0.0)
    for i, cp in enumerate(checkpoints):
        scored("pos", cp, 0.5 * i)
        scored("neg", cp, -0.3 * i)
    return rows


# ---- the run ------------------------------------------------------------------------------------------

def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - wall, 4), "cpu_s": round(time.process_time() - cpu, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=1172, help="questions (default 1172, ARC-Challenge test)")
    p.add_argument("--choices", type=int, default=4, help="choices per question (default 4)")
    p.add_argument("--checkpoints", type=int, default=12, help="checkpoints of the trained heads (default 12)")
    p.add_argument("--weights", type=int, default=50, help="weights in the sweep, evenly from 0 to 1.5 (default 50)")
    p.add_argument("--quick", action="store_true", help="a small table (60 questions, 3 checkpoints, 5 weights)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the result JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.questions, a.checkpoints, a.weights = 60, 3, 5
    weights = [1.5 * i / (a.weights - 1) for i in range(a.weights)] if a.weights > 1 else [1.0]
    rows = synthetic_rows(a.questions, a.choices, checkpoint_names(a.checkpoints), a.seed)
    validate(ScoreTable(rows))
    load_before = os.getloadavg()

    new_runs = []
    new_rep, t = timed(lambda: report(ScoreTable(rows), weights))  # a fresh table: columns built inside
    new_runs.append(t)
    old_rep, old = timed(lambda: old_report(ScoreTable(rows), weights))
    again, t = timed(lambda: report(ScoreTable(rows), weights))
    new_runs.append(t)
    warm_table = ScoreTable(rows)
    warm_table.columns()
    _, warm = timed(lambda: report(warm_table, weights))  # columns already built: the rules alone

    new = {k: round(statistics.mean(r[k] for r in new_runs), 4) for k in ("wall_s", "cpu_s")}
    identical = new_rep == old_rep and again == old_rep
    n_acc = 2 * len(old_rep["results"])
    result = {
        "command": " ".join([os.path.basename(sys.argv[0])] + (argv if argv is not None else sys.argv[1:])),
        "table": {"rows": len(rows), "questions": a.questions, "choices": a.choices, "checkpoints": a.checkpoints,
                  "weights": len(weights), "report_rows": len(old_rep["results"]), "accuracies": n_acc},
        "baseline_row_by_row": old,
        "likra_columnar": {**new, "runs": new_runs, "warm_columns": warm},
        "ratio_wall": round(old["wall_s"] / new["wall_s"], 1),
        "ratio_cpu": round(old["cpu_s"] / new["cpu_s"], 1) if new["cpu_s"] else None,
        "identical": identical,
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "cpu_count": os.cpu_count(),
        "versions": _versions(),
    }
    print(json.dumps({k: result[k] for k in ("table", "baseline_row_by_row", "likra_columnar", "ratio_wall",
                                            "ratio_cpu", "identical")}, indent=2))
    if a.out:
        from likra.io_utils import atomic_write_json

        atomic_write_json(a.out, result)
    if not identical:
        print("the two reports differ", file=sys.stderr)
        return 1
    return 0


def _versions() -> dict:
    import platform

    import numpy

    return {"python": platform.python_version(), "numpy": numpy.__version__, "platform": platform.platform()}


if __name__ == "__main__":
    sys.exit(main())
