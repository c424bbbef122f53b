"""`status`: what an experiment folder holds, for runs that span sessions: each run's heads (examples
trained of those it will see), each of its evaluations (done, or how many scoring passes of how many
are saved), mined files, and every record with its seeds and time. Reads files only: no model, no torch."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

from likra.experiments.session import Session
from likra.locks import available, holder, lock_path
from likra.models.likra_model import STATE_FILE


def _json(path: Path) -> dict | None:
    """A record, or None where it is missing or unreadable (status reports what is there, it judges nothing)."""
    from likra.errors import ArtifactError
    from likra.io_utils import read_json_object

    try:
        return read_json_object(path)
    except ArtifactError:
        return None


def head_status(run: Path, head: str, total: int | None) -> str:
    state = _json(run / head / STATE_FILE)
    if state is None:
        return f"{head} not started"
    of = f"/{total}" if total else ""
    if state["finished"]:
        return f"{head} {state['examples_seen']}{of}"
    cfg = state.get("config") or {}
    lock = lock_path(run / head)
    left = training_left(run / head, state["examples_seen"], total,
                         cfg.get("state_every", 20) * cfg.get("batch_size", 32),
                         pace=state.get("pace"), lock=lock)
    who = holder(lock) or {}
    pid = f"; pid {who['pid']}" if who.get("pid") else ""  # the process to stop, if it must be
    return f"{head} {state['examples_seen']}{of} ({left or 'training'}{pid})"


def _pace(pace: list) -> float | None:
    """Seconds per example over the kept (examples seen, time) pairs of one process."""
    if len(pace) < 2 or pace[-1][0] == pace[0][0]:
        return None
    return (pace[-1][1] - pace[0][1]) / (pace[-1][0] - pace[0][0])


def _checkpoint_pace(head_dir: Path) -> float | None:
    saved = sorted((int(p.name.split("-")[1]), p.stat().st_mtime) for p in head_dir.glob("checkpoint-*")
                   if p.name.split("-")[1].isdigit())
    return _pace(saved[-2:])


def stopped(ago_s: float, next_save_s: float, lock: Path | None = None) -> bool:
    """Whether the job that writes here has stopped. Where it left a lock file (likra/locks.py), the lock
    says: held means a live process. Else (a run made before likra locked, or no fcntl) a job that has
    not saved for three times as long as its next save should take, and 10 min more for a busy machine,
    is taken as stopped: its estimate would only mislead."""
    if lock is not None and lock.exists() and available():
        return holder(lock) is None
    return ago_s > 3 * next_save_s + 600


def training_left(head_dir: Path, seen: int, total: int | None, between: int = 640, now: float | None = None,
                  pace: list | None = None, lock: Path | None = None) -> str:
    """'training; about N min left' at the pace of the running process's last state saves (`pace`:
    (examples seen, time) pairs the trainer keeps since it started, so never across a stop), or, for a
    state saved before likra kept them, between the head's last two checkpoints (1, 2, 4, ... examples:
    the later ones take most of the time); and how long ago its state was last saved (every `between`
    examples and at each checkpoint). A stopped one says so instead (`lock`: see `stopped`)."""
    per = _pace(pace or []) or _checkpoint_pace(head_dir)
    ago = (now if now is not None else time.time()) - (head_dir / STATE_FILE).stat().st_mtime
    next_save = per * min(max(total - seen, 1), between) if per and total else float("inf")
    if stopped(ago, next_save, lock):
        return f"stopped: state saved {ago / 60:.0f} min ago; rerun its command to resume"
    if not total or per is None:
        return ""
    return f"training; about {per * (total - seen) / 60:.0f} min left, state saved {ago / 60:.0f} min ago"


def mining_status(journal: Path, now: float | None = None) -> str:
    """'N/T questions sampled (about M min left, saved K min ago)' from a sampling journal (likra/mining/
    journal.py); 'stopped' where no batch has come for three times as long as one should take (mining
    holds no lock of its own); 'N questions sampled so far' from a journal that predates the header's counts."""
    from likra.mining.journal import progress

    p = progress(journal, now)
    if p.total is None:
        return f"{p.sampled} questions sampled so far"
    done = f"{p.sampled}/{p.total} questions sampled"
    ago = f"saved {p.saved_ago_s / 60:.0f} min ago"
    if stopped(p.saved_ago_s, p.per_question_s * p.batch_size if p.per_question_s else float("inf")):
        return f"{done} (stopped: {ago}; rerun its command to resume)"
    left = p.left_s()
    return f"{done} (about {left / 60:.0f} min left, {ago})" if left is not None else f"{done} ({ago})"


def eval_status(folder: Path, stem: str = "scores", done: str = "results.json") -> str:
    """'done', 'P/T passes' from a partial table (STEM.partial.csv and its record), or 'not started'."""
    if (folder / done).exists():
        return "done"
    shape = _json(folder / f"{stem}.partial.json")
    lock = lock_path(folder, stem)
    if shape is None:
        return "scoring its first pass" if holder(lock) else "not started"
    saved_at = shape.get("saved_at") or []
    shape = shape.get("shape", shape)
    with open(folder / f"{stem}.partial.csv", newline="", encoding="utf-8") as f:
        passes = len({(r["head"], r["checkpoint"]) for r in csv.DictReader(f)})
    heads = len(shape.get("heads", [])) or 1
    total = 1 + heads * len(shape.get("checkpoints", []))  # the base model, then each head
    return f"{passes}/{total} passes" + time_left(saved_at, (total - passes) / heads, lock=lock)


def time_left(saved_at: list[float], checkpoints_left: float, now: float | None = None,
              lock: Path | None = None, unit: str = "checkpoint") -> str:
    """', about N min left' from the times the running scorer saved its last checkpoint passes (each
    checkpoint's heads score in one pass), and how long ago the last one was saved: a stopped job's
    estimate is stale, and that says so (`lock`: see `stopped`). `unit`: what lies between two saves (a
    base ranking saves a part of its questions at a time)."""
    # between two saves lies one checkpoint's pass (the first save may be the base model's pass, or, in a
    # resumed job, a checkpoint's: either way the next interval is a checkpoint's)
    steps = [b - a for a, b in zip(saved_at, saved_at[1:])]
    if not saved_at or checkpoints_left <= 0:
        return ""
    per = sorted(steps)[len(steps) // 2] if steps else None
    ago = (now if now is not None else time.time()) - saved_at[-1]
    if stopped(ago, per or float("inf"), lock):
        takes = f" (a {unit} takes {per / 60:.1f} min)" if per else ""
        last = "pass" if unit == "checkpoint" else unit
        return f", stopped: last {last} saved {ago / 60:.0f} min ago{takes}; rerun its command to resume"
    if per is None:
        return ""
    # per checkpoint, not per counted pass: a two-head table scores both heads of a checkpoint in one go
    return (f", about {per * checkpoints_left / 60:.0f} min left at {per / 60:.1f} min a {unit} "
            f"(last saved {ago / 60:.0f} min ago)")


def run_line(run: Path, root: Path) -> str:
    record = _json(run / "run.json") or {}
    total = (record.get("data") or {}).get("used")
    heads = [h for h in ("pos", "neg") if (run / h).is_dir()]
    evals = sorted(p for p in (run / "eval").glob("*") if p.is_dir()) if (run / "eval").is_dir() else []
    scored = [f"{p.name} {eval_status(p)}" for p in evals]
    if any((run / "eval").glob("mass-scores*")):  # the mass experiment's table of the same run
        scored.append(f"mass {eval_status(run / 'eval', 'mass-scores', 'mass-scores.json')}")
    scored = ", ".join(scored) or "not evaluated"
    # a folder made before its first head: a hardest/easiest run keeps its base-model ranking there first
    trained = ", ".join(head_status(run, h, total) for h in heads) or ranking_status(run)
    return f"  {str(run.relative_to(root)):<40} {trained}; eval {scored}"


def ranking_status(run: Path) -> str:
    """What a run without heads has done: a hardest/easiest run ranks the base model's choices first."""
    from likra.pipeline import BASE_SCORES_FILE, RANKING_PART, partial_ranking

    if (run / BASE_SCORES_FILE).exists():
        return "base model's ranking saved, no head trained yet"
    partial = _json(partial_ranking(run / BASE_SCORES_FILE))
    if not partial:
        return "no head trained yet"
    saved, total = len(partial.get("scores", {})), partial.get("questions")
    parts_left = math.ceil((total - saved) / RANKING_PART) if total else 0
    left = time_left(partial.get("saved_at", []), parts_left, unit="part")
    return f"ranking the base model's choices: {saved}/{total or '?'} questions saved{left}; no head trained yet"


def runs(root: Path) -> list[Path]:
    found = [p for pattern in ("seed-*", "negatives/*/seed-*", "objectives/*/seed-*")
             for p in sorted(root.glob(pattern))]
    return [p for p in found if p.is_dir()]


def record_line(path: Path) -> str:
    rec = _json(path) or {}
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    cfg = rec.get("config") or {}
    key, field = SERIES.get(rec.get("experiment"), (None, None))
    what = cfg.get(field) if field else None
    extra = f"; {series_seeds(rec.get('rows'), key, what)}" if what else ""
    seeds = rec.get("seeds")
    return f"  {path.name:<20} seeds {','.join(map(str, seeds)) if seeds else '-'}{extra} ({when})"


# experiments whose record holds several series: (the rows' key naming a series, the config field listing them)
SERIES = {"negatives": ("kind", "negative_kinds"), "objectives": ("objective", "objectives")}


def series_seeds(rows: list | None, key: str, names: list[str]) -> str:
    """Each series with the seeds its rows hold ("near-miss 0,1,2, unrelated 0"): a record grown with --keep-from
    covers its seeds unevenly, and the record's seeds alone would claim every series at every seed. A record
    without rows (a stub) lists the names alone."""
    if not isinstance(rows, list):
        return ", ".join(names)
    held = {n: sorted({r.get("seed") for r in rows if isinstance(r, dict) and r.get(key) == n} - {None})
            for n in names}
    return ", ".join(f"{n} {','.join(map(str, s)) if s else 'none'}" for n, s in held.items())


def report(root: Path) -> str:
    lines = [f"{root}:", "runs (examples trained per head; evaluations):"]
    lines += [run_line(r, root) for r in runs(root)] or ["  none"]
    mined = sorted((root / "negatives" / "mined").glob("seed-*.jsonl"))
    if mined:
        lines.append("mined negatives: " + ", ".join(p.name for p in mined))
    for journal in sorted((root / "negatives" / "mined").glob("seed-*.samples.partial")):  # mining under way
        lines.append(f"mining {journal.name.split('.')[0]}: {mining_status(journal)}")
    lines.append("records:")
    lines += [record_line(p) for p in sorted(root.glob("*.json"))] or ["  none"]
    return "\n".join(lines) + "\n"


def run(s: Session) -> dict:
    from likra.errors import ConfigError

    if not s.out.is_dir():
        raise ConfigError(f"{s.out}: no such experiment folder")
    return {"experiment": "status", "report": "\n".join(report(f) for f in folders(s.out)), "files": []}


def folders(root: Path) -> list[Path]:
    """`root` when it is an experiment folder (runs or records in it), else each experiment folder
    directly in it: `--out runs/experiments` tells where every experiment there stands."""
    if runs(root):
        return [root]
    inside = [p for p in sorted(root.iterdir()) if p.is_dir() and (runs(p) or _has_records(p))]
    return ([root] if _has_records(root) or not inside else []) + inside  # e.g. `table` writes into the parent


def _has_records(folder: Path) -> bool:
    return any((_json(p) or {}).get("experiment") for p in folder.glob("*.json"))
