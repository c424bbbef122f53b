"""Fuzzing ScoreTable.load with damaged copies of a valid score table file.

Property, for every mutant: `ScoreTable.load` raises ArtifactError (never another exception), or the
table it returns gives exactly the original's accuracies. Two edits are valid tables by construction
and cannot be told from real ones by the file alone; for those the test asserts exactly what loaded:
  - a log-likelihood replaced by another plausible one (only a digest kept elsewhere could tell);
  - a file cut exactly after a whole scoring pass (base, or every head at one checkpoint): a complete
    table of fewer checkpoints.
Seeded (random.Random), so every run checks the same mutants.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import fields, replace

import pytest

from likra.errors import ArtifactError
from likra.evaluate import report
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable

FIELDS = [f.name for f in fields(ScoreRow)]
WEIGHTS = (0.5, 1.0)
POOL = ["", " ", "nan", "NaN", "inf", "-inf", "-1e999", "-1", "1e9", "abc", "0", "1", "2", "-0.0", "0.5", "1e-05",
        "True", "false", "yes", "-", "final", "7", "base", "pos", "neg", "pso", "Mercury_1", "arc_challenge"]


def _original() -> tuple[ScoreTable, set[int]]:
    """A table laid out as the engine writes it (base pass, then pos and neg per question at each
    checkpoint), and the row counts at which a scoring pass ends."""
    rng = random.Random(7)
    questions = [("arc_challenge", f"Mercury_{i}", rng.randint(2, 5)) for i in range(6)]
    questions += [("hellaswag", "Mercury_1", 4), ("arc_challenge", "Q_é", 3)]
    shape = {(b, q): ([rng.randint(1, 30) for _ in range(k)], rng.randrange(k)) for b, q, k in questions}
    rows: list[ScoreRow] = []
    ends = set()

    def score(bench, qid, head, cp):
        chars, gold = shape[(bench, qid)]
        for c, n in enumerate(chars):
            rows.append(ScoreRow(qid, bench, c, head, cp, -rng.uniform(0.5, 30), rng.randint(1, 8), n,
                                 n + (c % 3 == 1 and qid.endswith("é")), c == gold, rng.random() < 0.3))

    for bench, qid, _ in questions:
        score(bench, qid, "base", BASE_CHECKPOINT)
    ends.add(len(rows))
    for cp in ("1", "4", "final"):
        for bench, qid, _ in questions:
            score(bench, qid, "pos", cp)
            score(bench, qid, "neg", cp)
        ends.add(len(rows))
    return ScoreTable(rows), ends


ORIGINAL, PASS_ENDS = _original()


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    p = tmp_path_factory.mktemp("orig") / "scores.csv"
    ORIGINAL.save(p)
    text = p.read_text(encoding="utf-8")
    return text.split("\n")[:-1], report(ORIGINAL, weights=WEIGHTS)["results"]


def _text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _plausible_logprob(v: str) -> bool:
    """The oracle for an undetectable edit: a plain number that is a log-likelihood."""
    return bool(re.fullmatch(r"-?[0-9]+(\.[0-9]*)?(e-?[0-9]+)?", v)) and math.isfinite(float(v)) and float(v) <= 1e-4


# Each mutator: (rng, lines) -> (description, bytes of the file, allowed) where allowed(table) says
# whether a successful load that changed the accuracies is one of the two undetectable edits.

def _delete(rng, lines):
    i = rng.randrange(len(lines))
    return f"delete line {i + 1}", _text(lines[:i] + lines[i + 1:]), None


def _duplicate(rng, lines):
    i, j = rng.randrange(len(lines)), rng.randrange(1, len(lines) + 1)
    return f"copy line {i + 1} before line {j + 1}", _text(lines[:j] + [lines[i]] + lines[j:]), None


def _swap(rng, lines):
    i, j = rng.sample(range(len(lines)), 2)
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return f"swap lines {i + 1} and {j + 1}", _text(out), None


def _truncate(rng, lines):
    data = _text(lines)
    n = rng.randrange(len(data))

    def allowed(t):
        return len(t.rows) in PASS_ENDS and t.rows == ORIGINAL.rows[:len(t.rows)]
    return f"cut at byte {n}", data[:n], allowed


def _cell(rng, lines):
    i = rng.randrange(len(lines)) if rng.random() < 0.05 else rng.randrange(1, len(lines))
    col = rng.randrange(len(FIELDS))
    value = rng.choice(POOL + [lines[rng.randrange(1, len(lines))].split(",")[col]])
    out = list(lines)
    cells = out[i].split(",")
    cells[col] = value
    out[i] = ",".join(cells)
    allowed = None
    if i > 0 and FIELDS[col] == "logprob" and _plausible_logprob(value):
        edited = list(ORIGINAL.rows)
        edited[i - 1] = replace(edited[i - 1], logprob=float(value))
        allowed = lambda t: t.rows == edited  # noqa: E731
    return f"line {i + 1}: {FIELDS[col]} = {value!r}", _text(out), allowed


def _flip_gold(rng, lines):
    i, col = rng.randrange(1, len(lines)), FIELDS.index("gold")
    cells = lines[i].split(",")
    cells[col] = {"0": "1", "1": "0"}[cells[col]]
    return f"flip gold on line {i + 1}", _text(lines[:i] + [",".join(cells)] + lines[i + 1:]), None


def _shuffle(rng, lines):
    body = lines[1:]
    rng.shuffle(body)
    return "shuffle the rows", _text(lines[:1] + body), None


def _spaces(rng, lines):
    i, col = rng.randrange(len(lines)), rng.randrange(len(FIELDS))
    cells = lines[i].split(",")
    cells[col] = rng.choice([" " + cells[col], cells[col] + " ", f" {cells[col]} "])
    return f"spaces around cell {col + 1} of line {i + 1}", _text(lines[:i] + [",".join(cells)] + lines[i + 1:]), None


MUTATORS = {"delete": _delete, "duplicate": _duplicate, "swap": _swap, "truncate": _truncate, "cell": _cell,
            "flip_gold": _flip_gold, "shuffle": _shuffle, "spaces": _spaces}
COUNT = {"cell": 240, "truncate": 120}  # mutants per kind; 60 where not named
ALWAYS_REFUSED = {"delete", "duplicate", "flip_gold", "spaces"}


def _outcome(path, data: bytes, want, allowed, what: str) -> str:
    path.write_bytes(data)
    try:
        table = ScoreTable.load(path)
    except ArtifactError as e:
        assert str(e).startswith(f"{path}:"), f"{what}: {e}"  # every refusal names the file
        return "refused"
    except Exception as e:  # noqa: BLE001 - any other exception is the bug this test hunts
        pytest.fail(f"{what}: {type(e).__name__}: {e}")
    if report(table, weights=WEIGHTS)["results"] == want:
        return "same"
    assert allowed is not None and allowed(table), f"{what}: loaded, and the accuracies changed"
    return "undetectable"


@pytest.mark.parametrize("kind", list(MUTATORS))
def test_a_damaged_table_is_refused_or_changes_nothing(kind, original, tmp_path):
    lines, want = original
    rng = random.Random(list(MUTATORS).index(kind))
    seen = {}
    for _ in range(COUNT.get(kind, 60)):
        what, data, allowed = MUTATORS[kind](rng, lines)
        outcome = _outcome(tmp_path / "scores.csv", data, want, allowed, what)
        seen.setdefault(outcome, []).append(what)
    if kind in ALWAYS_REFUSED:
        assert set(seen) == {"refused"}, seen
    if kind == "shuffle":
        assert set(seen) == {"same"}, seen


def test_the_original_loads_unchanged(original, tmp_path):
    lines, want = original
    p = tmp_path / "scores.csv"
    p.write_bytes(_text(lines))
    assert ScoreTable.load(p).rows == ORIGINAL.rows
    assert report(ScoreTable.load(p), weights=WEIGHTS)["results"] == want
