"""Evaluation: questions (+ few-shot) -> score table under base/pos/neg -> accuracy per rule -> report.

The report is a readable table on screen and JSON on disk; the score table is saved beside it so
any other rule or weight can be computed later without the model (`likra report`).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

from likra.config import EvalConfig
from likra.data.benchmarks import add_fewshot, load_questions
from likra.data.questions import Question
from likra.io_utils import atomic_write_json, library_versions
from likra.scoring.rules import RULES, accuracy
from likra.scoring.table import BASE_CHECKPOINT, ScoreTable

SCORES_FILE, RESULTS_FILE, PARTIAL_FILE = "scores.csv", "results.json", "scores.partial.csv"


def eval_questions(cfg: EvalConfig) -> list[Question]:
    """The evaluated questions: a seeded subset if `limit`, each with its few-shot prefix."""
    qs = list(load_questions(cfg.benchmark, cfg.split, data_root=cfg.data_root).questions)
    if cfg.limit is not None and cfg.limit < len(qs):
        idx = sorted(random.Random(cfg.seed).sample(range(len(qs)), cfg.limit))
        qs = [qs[i] for i in idx]
    return add_fewshot(qs, cfg.benchmark, cfg.shots, cfg.seed, cfg.data_root)


def score_run(likra, questions: list[Question], checkpoints: list[int], batch_tokens: int | None = None,
              progress: bool = True, partial: str | Path | None = None) -> ScoreTable:
    """Base once, then the heads at each checkpoint: one table for a whole learning curve.

    With `partial`, the table is saved after each step and a rerun skips what is already there,
    so an interrupted learning-curve evaluation resumes where it stopped.
    """
    from likra.scoring.engine import EngineConfig, ScoringEngine

    engine = ScoringEngine(likra.model, likra.loaded.tokenizer, likra.loaded.prefix_token_ids,
                           EngineConfig(batch_tokens=batch_tokens, progress=progress))
    table = _resume_table(partial, questions)
    done = {(r.head, r.checkpoint) for r in table}
    if ("base", BASE_CHECKPOINT) not in done:
        table.extend(engine.score(questions, ("base",)))
        _save_partial(table, partial)
    for seen in checkpoints:
        if all((h, str(seen)) in done for h in likra.heads):
            continue
        likra.use_checkpoint(seen)
        table.extend(engine.score(questions, likra.heads, checkpoint=str(seen)))
        _save_partial(table, partial)
    return table


def _resume_table(partial, questions: list[Question]) -> ScoreTable:
    if partial is None or not Path(partial).exists():
        return ScoreTable()
    table = ScoreTable.load(partial)
    if {r.question_id for r in table} != {q.id for q in questions}:
        return ScoreTable()  # another question set: start over rather than mix
    return table


def _save_partial(table: ScoreTable, partial) -> None:
    if partial is not None:
        table.save(partial)


def available_rules(table: ScoreTable) -> list[str]:
    heads = set(table.heads)
    return [r for r, (need, _) in RULES.items() if r != "neg" and set(need) <= heads]


def report(table: ScoreTable, weights=(1.0,)) -> dict:
    """Accuracy (acc and acc_norm, 95% Wilson intervals) of every rule at every checkpoint."""
    rows = []
    for cp in table.checkpoints or ["-"]:
        for rule in available_rules(table):
            for w in (weights if "likra" in rule else (1.0,)):
                entry = {"checkpoint": cp, "rule": rule, "weight": w}
                for key, norm in (("acc", "none"), ("acc_norm", "char")):
                    a = accuracy(table, rule, w, norm, None if cp == "-" else cp)
                    entry.update({key: a.acc, f"{key}_low": a.low, f"{key}_high": a.high, "n": a.n})
                rows.append(entry)
    return {"results": rows}


def format_report(rep: dict) -> str:
    """The table printed on screen."""
    lines = [f"{'checkpoint':>10}  {'rule':<12}{'w':>5}  {'acc':>6}  {'95% CI':<13}  {'acc_norm':>8}  {'95% CI':<13}  n"]
    for r in rep["results"]:
        rule = {"base": "base", "sft": "SFT", "likra": "Likra", "base-likra": "Base-Likra"}[r["rule"]]
        w = f"{r['weight']:g}" if "likra" in r["rule"] else ""
        lines.append(f"{r['checkpoint']:>10}  {rule:<12}{w:>5}  {r['acc']:6.3f}  [{r['acc_low']:.3f}, {r['acc_high']:.3f}]"
                     f"  {r['acc_norm']:8.3f}  [{r['acc_norm_low']:.3f}, {r['acc_norm_high']:.3f}]  {r['n']}")
    return "\n".join(lines)


def evaluate(cfg: EvalConfig, run_dir: str | Path | None, out_dir: str | Path, model_spec: str | None = None,
             device: str = "auto", dtype: str = "auto", cache_dir: str | None = None, progress: bool = True) -> dict:
    """Score `cfg`'s questions with the run's heads and write scores.csv + results.json to `out_dir`."""
    from likra.likra_model import load_likra, select_checkpoints

    t0 = time.time()
    likra = load_likra(model_spec, run_dir, device, dtype, cache_dir)
    checkpoints = select_checkpoints(run_dir, cfg.checkpoints) if run_dir else []
    questions = eval_questions(cfg)
    out_dir = Path(out_dir)
    partial = out_dir / PARTIAL_FILE
    table = score_run(likra, questions, checkpoints, cfg.batch_tokens, progress, partial)
    table.save(out_dir / SCORES_FILE)
    partial.unlink(missing_ok=True)
    rep = report(table, cfg.weights)
    rep.update({"config": asdict(cfg), "run_dir": str(run_dir) if run_dir else None, "base_model": likra.loaded.identity,
                "questions": len(questions), "checkpoints": checkpoints, "versions": library_versions(),
                "seconds": round(time.time() - t0, 1)})
    atomic_write_json(out_dir / RESULTS_FILE, rep)
    return rep
