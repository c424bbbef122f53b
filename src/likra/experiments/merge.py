"""Growing a record from an earlier one (`--keep-from RECORD`): the seeds and series an earlier record of
the same experiment and settings holds, and the runs in --out do not, are kept in the new record.

Why: a record is built from the run folders in --out, and those are large and local (weights, score
tables); the record itself (NAME.json: per-seed rows and per-question outcomes) is small and is what gets
committed or copied. When seeds 0-1 ran on one machine and seed 2 on another, or a folder of runs is
gone, the record carries what they measured, and only the missing parts need compute.

Rows are matched by identity: their seed and the experiment's summary keys (e.g. seed, kind, rule,
examples); per-question entries by every key but their payload. A row the runs in --out also produce is
taken from the runs, and compared with the kept one: the record counts how many differ (same seed and
settings should give the same numbers), and each difference is logged, never dropped silently.
"""

from __future__ import annotations

import math
from pathlib import Path

from likra.errors import ConfigError

# settings that may differ between the record kept and the new one: which parts run, and where
FREE = {"seeds", "negative_kinds", "objectives", "finished_only", "keep_from", "own_runs_only", "device", "dtype",
        "data_root"}
PAYLOAD = {"correct", "values"}  # the per-question field of an outcome entry
TOLERANCE = 1e-9  # a float survives JSON exactly: a recomputed number differs from the kept one only in earnest


def load_kept(path: str | Path, name: str, cfg) -> dict:
    """The record at `path`, checked before any model loads: the same experiment, and every setting that
    shapes its numbers equal to `cfg`'s (a ConfigError naming the file and the first field that differs)."""
    from dataclasses import MISSING, asdict, fields

    from likra.experiments.records import load_record

    record = load_record(Path(path))
    if record.get("experiment") != name:
        raise ConfigError(f"--keep-from {path}: a record of {record.get('experiment')!r}, not of {name!r}")
    theirs, ours = record.get("config") or {}, asdict(cfg)
    # a setting added after the record was written is missing from it: the record was made as its default does
    defaults = {f.name: f.default for f in fields(cfg) if f.default is not MISSING}
    for key, value in ours.items():
        if key in FREE:
            continue
        kept = theirs.get(key, defaults.get(key))
        if _plain(kept) != _plain(value):
            raise ConfigError(f"--keep-from {path}: its {key} is {kept!r}, this run's is {value!r}; "
                              f"a record is only grown with runs of the same settings")
    return record


def grown_config(kept: dict, config: dict) -> dict:
    """The new record's config: which seeds, kinds and objectives it covers are the kept record's and this
    run's together (the kept ones first), so the config describes the rows."""
    out = dict(config)
    for key in ("seeds", "negative_kinds", "objectives"):
        theirs = (kept.get("config") or {}).get(key) or []
        out[key] = list(dict.fromkeys([*theirs, *config[key]]))
    return out


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def grow(kept: dict, path: str, rows: list[dict], extra: dict, by: tuple[str, ...]) -> tuple[list[dict], dict, dict]:
    """(rows, extra, provenance): `rows` and `extra` (its "questions" and per-seed lists) joined with the
    kept record's, the new ones taking precedence. `by`: the summary keys that, with the seed, name a row."""
    identity = ("seed", *by)
    rows_out, report = _join(kept.get("rows", []), rows, lambda r: tuple(r.get(k) for k in identity))
    extra, questions = dict(extra), {}
    if "questions" in kept:
        extra["questions"], questions = _join_questions(kept["questions"], extra.get("questions"), path)
    for key, theirs in kept.items():  # per-seed lists beside the rows (e.g. negatives' ends_early)
        if key in extra and key != "questions" and _per_seed(theirs):
            named = lambda e: tuple(sorted((k, str(v)) for k, v in e.items() if k in identity))  # noqa: E731
            extra[key], _ = _join(theirs, extra[key], named)
    provenance = {"path": str(path), "seeds": kept.get("seeds"), "versions": kept.get("versions"), "rows": report,
                  **({"questions": questions} if questions else {})}
    return rows_out, extra, provenance


def _per_seed(value) -> bool:
    return isinstance(value, list) and all(isinstance(e, dict) and "seed" in e for e in value)


def _join(old: list[dict], new: list[dict], key) -> tuple[list[dict], dict]:
    """old's entries that new lacks, and all of new's, in old's order (a recomputed entry takes the place of
    the one it replaces, entries old lacks follow), then stably by seed; with counts of what was kept,
    recomputed, and recomputed with a different value (each of those logged). Keeping old's order keeps a
    record's series (e.g. its kinds of negatives) in the order they had, whichever parts the runs hold."""
    from likra.experiments.session import log

    fresh = {key(e): e for e in new}
    kept = [e for e in old if key(e) not in fresh]
    differ = [(e, fresh[key(e)]) for e in old if key(e) in fresh and not _same(e, fresh[key(e)])]
    for before, after in differ[:5]:
        changed = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys() if k not in PAYLOAD
                   and not _same({k: before.get(k)}, {k: after.get(k)})}
        log(f"--keep-from: {_name(before)} differs from the record kept: "
            + (", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()) or "its per-question outcomes"))
    if len(differ) > 5:
        log(f"--keep-from: {len(differ) - 5} more entries differ from the record kept")
    known = {key(e) for e in old}
    in_place = [fresh.get(key(e), e) for e in old] + [e for e in new if key(e) not in known]
    joined = sorted(in_place, key=lambda e: e.get("seed", -1))
    return joined, {"kept": len(kept), "recomputed": len(old) - len(kept), "recomputed_differing": len(differ)}


def _name(entry: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in entry.items() if isinstance(v, (str, int)) and k not in PAYLOAD)


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if isinstance(x, float) and isinstance(y, (int, float)):
            if not (math.isclose(x, y, rel_tol=0, abs_tol=TOLERANCE) or (math.isnan(x) and math.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def _join_questions(old: dict, new: dict | None, path: str) -> dict:
    """Per-question outcomes: the same questions on both sides (ids), entries joined by every key but the payload."""
    if not new or not new.get("ids"):
        return old, {}
    if old.get("ids") and old["ids"] != new["ids"]:
        raise ConfigError(f"--keep-from {path}: its per-question outcomes are over other test questions than "
                          f"these runs' (same --limit and --eval-seed, but another data set?)")
    field = next(k for k, v in new.items() if k != "ids" and isinstance(v, list))
    key = lambda e: tuple(sorted((k, str(v)) for k, v in e.items() if k not in PAYLOAD))  # noqa: E731
    entries, report = _join(old.get(field, []), new[field], key)
    return {"ids": new["ids"], field: entries}, report
