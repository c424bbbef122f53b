"""The base model's pass of a score table, shared by the runs scored on the same questions. An experiment
scores many runs (seeds, kinds of negatives, objectives) on one test set, and the base model's rows are
the same in each: scored once, they save one pass per run (a twelfth of a one-head run's scoring). The
key is everything that shapes those rows (questions and their texts, shots, length policy, the model's
identity), never a run; the file's digest is checked before its rows are used."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from likra.log import get_logger
from likra.scoring.table import ScoreTable

_logger = get_logger(__name__)
BASE_KEYS = ("benchmark", "split", "limit", "shots", "seed", "length_policy", "model", "questions", "texts")
"""The keys of a table's shape (evaluate.table_shape) that shape its base model's rows."""


def _paths(folder: Path, shape: dict) -> tuple[Path, Path, dict]:
    wanted = {k: shape.get(k) for k in BASE_KEYS}
    key = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]
    return folder / f"base-{key}.csv", folder / f"base-{key}.json", wanted


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def fill(table: ScoreTable, folder: Path, shape: dict) -> ScoreTable:
    """`table` with the cached base rows added when it has none and the cache holds this shape's."""
    if any(r.head == "base" for r in table):
        return table
    rows, record, wanted = _paths(folder, shape)
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("shape") != wanted or saved.get("scores_sha256") != _sha(rows):
            raise ValueError("it does not match its record")
        cached = ScoreTable.load(rows)
    except FileNotFoundError:
        return table
    except (OSError, ValueError) as e:  # a damaged cache costs a pass, never a wrong row
        _logger.warning(f"not using the cached base model rows in {rows}: {e}; scoring them")
        return table
    _logger.info(f"base model rows reused from {rows} (same model, questions and settings)")
    table.extend(cached)
    return table


def keep(table: ScoreTable, folder: Path, shape: dict) -> None:
    """Cache `table`'s base rows for this shape, once (each file atomically, the record after the rows:
    a record names rows already whole)."""
    from likra.io_utils import atomic_write_json

    rows, record, wanted = _paths(folder, shape)
    base = ScoreTable([r for r in table if r.head == "base"])
    if record.exists() or not len(base.rows):
        return
    folder.mkdir(parents=True, exist_ok=True)
    base.save(rows)
    atomic_write_json(record, {"shape": wanted, "scores_sha256": _sha(rows)})
