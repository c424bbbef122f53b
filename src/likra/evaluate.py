"""Evaluation: questions (+ few-shot) -> score table under base/pos/neg -> accuracy per rule -> report.

The report is a readable table on screen and JSON on disk; the score table is saved beside it so
any other rule or weight can be computed later without the model (`likra report`).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from likra.config import EvalConfig
from likra.data.benchmarks import add_fewshot, load_questions
from likra.data.questions import Question, questions_digest
from likra.distributed import barrier, is_main
from likra.errors import ArtifactError
from likra.io_utils import atomic_write_json, library_versions
from likra.models.likra_model import head_checkpoints
from likra.scoring.rules import ANALYSIS_RULES, RULES, accuracy_sweep
from likra.scoring.table import BASE_CHECKPOINT, ScoreTable, validate
from likra.log import get_logger

_logger = get_logger(__name__)

DISPLAY = {"base": "base", "sft": "SFT", "likra": "Likra", "base-likra": "Base-Likra", "reward": "head-base"}
SCORES_FILE, RESULTS_FILE = "scores.csv", "results.json"  # a cut-off scoring leaves scores.partial.csv


def eval_questions(cfg: EvalConfig) -> list[Question]:
    """The evaluated questions: a seeded subset if `limit`, each with its few-shot prefix."""
    qs = list(load_questions(cfg.benchmark, cfg.split, data_root=cfg.data_root).questions)
    if cfg.limit is not None and cfg.limit < len(qs):
        idx = sorted(random.Random(cfg.seed).sample(range(len(qs)), cfg.limit))
        qs = [qs[i] for i in idx]
    elif cfg.limit is not None and cfg.limit > len(qs):
        _logger.warning(f"--limit {cfg.limit}: {cfg.benchmark} {cfg.split} has {len(qs)} questions; "
                        "evaluating all of them")
    return add_fewshot(qs, cfg.benchmark, cfg.shots, cfg.seed, cfg.data_root)


def _log(msg: str) -> None:
    _logger.info(msg)


def score_run(likra, questions: list[Question], checkpoints: list[int], engine, table: ScoreTable | None = None,
              on_pass: Callable[[ScoreTable], None] | None = None) -> ScoreTable:
    """Base once, then the heads at each checkpoint: one table for a whole learning curve.

    Passes already in `table` (a resumed partial table) are skipped; `on_pass` is called after each
    pass (to save the partial table), so an interrupted learning-curve evaluation resumes.
    """
    table = table if table is not None else ScoreTable()
    done = {(r.head, r.checkpoint) for r in table}
    passes = [(("base",), None)] + [(tuple(likra.heads), seen) for seen in checkpoints]
    todo = [(heads, seen) for heads, seen in passes
            if not all((h, BASE_CHECKPOINT if seen is None else str(seen)) in done for h in heads)]
    for i, (heads, seen) in enumerate(todo):
        t = time.time()
        if seen is not None:
            likra.use_checkpoint(seen)
        where = "" if seen is None else f" @ {seen}"
        table.extend(engine.score(questions, heads, checkpoint=str(seen),
                                  desc=f"scoring {','.join(heads)}{where} (pass {i + 1}/{len(todo)})"))
        if on_pass:
            on_pass(table)
        _estimate(time.time() - t, heads, todo[i + 1:]) if i == 0 else None
    return table


def _estimate(seconds: float, heads, remaining) -> None:
    """After the first pass: how long the rest will take (a pass costs about its number of heads)."""
    left = seconds * sum(len(h) for h, _ in remaining) / len(heads)
    if left > 30:
        _log(f"estimate: about {left / 60:.0f} min more for the {len(remaining)} remaining pass(es) "
             f"(from the first pass, {seconds:.0f}s)")


def table_shape(cfg: EvalConfig, run_dir, checkpoints: list[int], likra, questions: list[Question]) -> dict:
    """Everything that shapes a score table; a saved or partial table is reused only when all of it is
    equal. "texts" (what the model was shown: prompts, choices, gold) came after "questions" (ids only)."""
    from likra.models.heads import WEIGHTS_FILE

    adapters = {f"{h}@{seen}": file_sha(head_checkpoints(run_dir, h)[seen] / WEIGHTS_FILE)
                for h in likra.heads for seen in checkpoints} if run_dir else {}
    ids = hashlib.sha256("\n".join(f"{q.benchmark}/{q.id}" for q in questions).encode()).hexdigest()[:16]
    return {"benchmark": cfg.benchmark, "split": cfg.split, "limit": cfg.limit, "shots": cfg.shots, "seed": cfg.seed,
            "length_policy": cfg.length_policy, "run": str(Path(run_dir).resolve()) if run_dir else None,
            "checkpoints": checkpoints, "heads": list(likra.heads),
            "model": likra.loaded.scores_identity,
            "adapters": adapters, "questions": ids, "texts": questions_digest(questions)}


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def check_table_digest(table_path: str | Path) -> None:
    """A score table beside the results.json that `likra eval` wrote with it must be the one it wrote:
    an edit that keeps the table well-formed (a changed log-likelihood, a file cut between two
    checkpoints) is invisible to validation but not to its sha256."""
    table_path = Path(table_path)
    results = table_path.with_name(RESULTS_FILE)
    if table_path.name != SCORES_FILE or not results.exists():
        return
    try:
        recorded = json.loads(results.read_text(encoding="utf-8")).get("scores_sha256")
    except (OSError, json.JSONDecodeError, AttributeError):
        return  # an unreadable results.json is not the table's fault; the table was validated
    if recorded and recorded != file_sha(table_path):
        raise ArtifactError(f"changed since likra eval wrote it (its sha256 differs from the one in {results}); "
                            "rerun likra eval, or copy the table elsewhere to report on it as it is now",
                            path=str(table_path))


def _resume_table(partial: Path, shape: dict) -> ScoreTable:
    """The partial table left by an interrupted eval of exactly this shape, else a fresh one (saying why)."""
    sidecar = partial.with_suffix(".json")
    if not partial.exists():
        return ScoreTable()
    try:
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        saved = None
    diff = _first_difference(saved, shape) if isinstance(saved, dict) else "its record is missing or unreadable"
    if diff is None:
        try:
            table = ScoreTable.load(partial)
        except ArtifactError as e:
            diff = f"it is damaged ({e})"
        else:
            if file_sha(partial) != saved.get("table_sha256"):
                _logger.warning(f"not resuming the partial table in {partial}: it changed after it was written; "
                                "starting over")
                return ScoreTable()
            passes = len({(r.head, r.checkpoint) for r in table})
            _log(f"resuming: {passes} head pass(es) already scored in {partial}")
            return table
    _logger.warning(f"not resuming the partial table in {partial}: {diff}; starting over")
    return ScoreTable()


def _finished_table(record: Path, scores: Path, shape: dict) -> ScoreTable | None:
    """The complete table of an earlier scoring of exactly this shape (unchanged since), if any, from the
    record written beside it: rerunning a finished eval (an experiment resuming) costs no scoring."""
    if not (record.exists() and scores.exists()):
        return None
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if (not isinstance(saved, dict) or not isinstance(saved.get("shape"), dict)
            or _first_difference(saved["shape"], shape) is not None or saved.get("scores_sha256") != file_sha(scores)):
        return None
    _log(f"already evaluated with these settings: {scores}")
    return ScoreTable.load(scores)


# Keys added to the shape after tables were saved without them: a saved shape that lacks one is judged
# on the rest (those tables were made before likra recorded it, and rescoring them all costs hours).
_LATER_KEYS = ("texts",)


def _first_difference(saved: dict, shape: dict) -> str | None:
    for key, value in shape.items():
        if key in _LATER_KEYS and key not in saved:
            continue
        if saved.get(key) != value:
            return f"it was made with {key}={saved.get(key)!r}, now {key}={value!r}"
    return None


def scored_table(likra, questions: list[Question], checkpoints: list[int], engine, scores: Path, shape: dict,
                 record: Path, reuse_only: bool = False, base_cache: Path | None = None) -> ScoreTable:
    """The table of `questions` under the run's heads at `checkpoints`, saved at `scores`: reused when
    `record` (which the caller writes after, with "shape" and "scores_sha256") says it has this shape,
    resumed from its partial table when an earlier scoring was cut off, else scored pass by pass.
    `reuse_only`: NotFinished instead of any scoring. `base_cache`: a folder where the base model's rows
    of this shape are shared with other runs (scoring/base_cache.py)."""
    from likra.scoring import base_cache as cache

    table = _finished_table(record, scores, shape)
    if table is not None:
        if base_cache is not None and is_main():
            cache.keep(table, base_cache, shape)
        return table
    if reuse_only:
        from likra.errors import NotFinished

        raise NotFinished(f"{scores}: not scored with these settings yet")
    with _writer(scores):
        table = _score_table(likra, questions, checkpoints, engine, scores, shape, base_cache)
    barrier()
    return table


def _writer(scores: Path):
    """The table's lock (likra/locks.py) while this process scores it: a second process scoring the same
    table stops with an error instead of both writing its partial file. Data parallel: the main process
    holds it for all."""
    from contextlib import nullcontext

    from likra.locks import hold, lock_path

    return hold(lock_path(scores.parent, scores.stem), f"scoring {scores.name}") if is_main() else nullcontext()


def _score_table(likra, questions, checkpoints, engine, scores: Path, shape: dict,
                 base_cache: Path | None) -> ScoreTable:
    from likra.scoring import base_cache as cache

    partial = scores.with_name(scores.stem + ".partial.csv")
    # when each pass of this process was saved: `likra experiment status` tells the time left
    saved_at: list[float] = []
    table = _resume_table(partial, shape)
    if base_cache is not None:
        table = cache.fill(table, base_cache, shape)
    table = score_run(likra, questions, checkpoints, engine, table,
                      on_pass=lambda t: _save_partial(t, partial, shape, saved_at) if is_main() else None)
    validate(table)  # the engine's own output obeys the table's invariants (a guard against engine bugs)
    if is_main():  # every process holds the whole (gathered) table; one writes it
        if base_cache is not None:
            cache.keep(table, base_cache, shape)
        table.save(scores)
        partial.unlink(missing_ok=True)
        partial.with_suffix(".json").unlink(missing_ok=True)
    return table


def _save_partial(table: ScoreTable, partial: Path, shape: dict, saved_at: list[float]) -> None:
    table.save(partial)
    saved_at.append(round(time.time(), 1))
    atomic_write_json(partial.with_suffix(".json"), {**shape, "table_sha256": file_sha(partial), "saved_at": saved_at})


def available_rules(table: ScoreTable) -> list[str]:
    heads = set(table.heads)
    rules = [r for r, (need, _) in RULES.items() if r not in ANALYSIS_RULES and set(need) <= heads]
    # a one-head run (SFT, or a preference objective such as dpo): also its implicit reward, head - base
    return rules + (["reward"] if "pos" in heads and "neg" not in heads else [])


def report(table: ScoreTable, weights=(1.0,)) -> dict:
    """Accuracy (acc and acc_norm, 95% Wilson intervals) of every rule at every checkpoint."""
    rows, weights = [], list(weights)
    for cp in table.checkpoints or ["-"]:
        for rule in available_rules(table):
            ws = weights if "likra" in rule else [1.0]
            sweeps = {key: accuracy_sweep(table, rule, ws, norm, None if cp == "-" else cp)
                      for key, norm in (("acc", "none"), ("acc_norm", "char"))}
            for i, w in enumerate(ws):
                entry = {"checkpoint": cp, "rule": rule, "weight": w}
                for key, sweep in sweeps.items():
                    a = sweep[i]
                    entry.update({key: a.acc, f"{key}_low": a.low, f"{key}_high": a.high, "n": a.n})
                rows.append(entry)
    return {"results": rows}


def format_report(rep: dict) -> str:
    """The table printed on screen."""
    lines = [f"{'checkpoint':>10}  {'rule':<12}{'w':>5}  {'acc':>6}  {'95% CI':<13}  "
             f"{'acc_norm':>8}  {'95% CI':<13}  n"]
    for r in rep["results"]:
        rule = DISPLAY[r["rule"]]
        w = f"{r['weight']:g}" if "likra" in r["rule"] else ""
        lines.append(f"{r['checkpoint']:>10}  {rule:<12}{w:>5}  {r['acc']:6.3f}  "
                     f"[{r['acc_low']:.3f}, {r['acc_high']:.3f}]"
                     f"  {r['acc_norm']:8.3f}  [{r['acc_norm_low']:.3f}, {r['acc_norm_high']:.3f}]  {r['n']}")
    return "\n".join(lines)


def evaluate(cfg: EvalConfig, run_dir: str | Path | None, out_dir: str | Path, model_spec: str | None = None,
             device: str = "auto", dtype: str = "auto", cache_dir: str | None = None, progress: bool = True,
             likra=None, reuse_only: bool = False, base_cache: Path | None = None) -> dict:
    """Score `cfg`'s questions with the run's heads and write scores.csv + results.json to `out_dir`.

    Questions, heads and checkpoints are checked before the model loads; `likra` (a LikraModel of
    this run) skips loading it again. `reuse_only`: only an existing table of these settings, else
    NotFinished (no scoring). `base_cache`: see scored_table.
    """
    from likra.models.likra_model import load_likra, run_heads, select_checkpoints, unpaired_checkpoints
    from likra.scoring.lengths import apply_length_policy

    t0 = time.time()
    questions = eval_questions(cfg)
    checkpoints = []
    if run_dir:
        heads = run_heads(run_dir)
        checkpoints = select_checkpoints(run_dir, cfg.checkpoints, heads)
        left_out = unpaired_checkpoints(run_dir, heads) if cfg.checkpoints == "all" else {}
        if left_out:
            _logger.warning(f"scoring the {len(checkpoints)} checkpoints every head has; "
                            f"not scored (a head lacks them): {left_out}")
    likra = likra or load_likra(model_spec, run_dir, device, dtype, cache_dir, checkpoint=None)
    engine = likra.engine(batch_tokens=cfg.batch_tokens, progress=progress, truncate=cfg.length_policy == "truncate")
    questions, lengths = apply_length_policy(questions, engine.lengths(questions), engine.max_length, cfg.length_policy)
    if lengths.too_long:
        _logger.warning(f"length: {lengths.summary()}")
    out_dir = Path(out_dir)
    shape = table_shape(cfg, run_dir, checkpoints, likra, questions)
    table = scored_table(likra, questions, checkpoints, engine, out_dir / SCORES_FILE, shape, out_dir / RESULTS_FILE,
                         reuse_only, base_cache)
    rep = report(table, cfg.weights)
    rep.update({"config": asdict(cfg), "run_dir": str(run_dir) if run_dir else None,
                "base_model": likra.loaded.identity,
                "questions": len(questions), "checkpoints": checkpoints, "length": asdict(lengths),
                "scores_sha256": file_sha(out_dir / SCORES_FILE), "shape": shape,
                "versions": library_versions(), "seconds": round(time.time() - t0, 1)})
    if is_main():
        atomic_write_json(out_dir / RESULTS_FILE, rep)
    barrier()
    return rep
