"""ScoreTable.load refuses every truncated, edited or inconsistent table with an ArtifactError that
names the file, the line (header = line 1), the question and the field; a valid table loads unchanged."""

from __future__ import annotations

import random
from dataclasses import fields, replace

import pytest

from likra.errors import ArtifactError
from likra.evaluate import report
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable
from likra.scoring.table import validate

FIELDS = [f.name for f in fields(ScoreRow)]
QIDS = [f"q{i}" for i in range(5)]
STEPS = [("base", BASE_CHECKPOINT), ("pos", "1"), ("neg", "1"), ("pos", "2"), ("neg", "2")]
WEIGHTS = (0.5, 1.0)


def _table() -> ScoreTable:
    """5 questions x 4 choices under base, and pos/neg at checkpoints '1' and '2'; gold of q_i is i % 4."""
    rng = random.Random(0)
    return ScoreTable(ScoreRow(qid, "toy", c, head, cp, -rng.uniform(1, 20), rng.randint(1, 6), 3 + c, 3 + c + (c == 1),
                               c == qi % 4, rng.random() < 0.3)
                      for head, cp in STEPS for qi, qid in enumerate(QIDS) for c in range(4))


def line(head: str, cp: str, qid: str, choice: int) -> int:
    """The file line of a row of `_table()` once saved."""
    return 2 + STEPS.index((head, cp)) * 20 + QIDS.index(qid) * 4 + choice


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "scores.csv"
    _table().save(p)
    return p


def _lines(p) -> list[str]:
    return p.read_text(encoding="utf-8").split("\n")  # the last item is '' (the file ends with a newline)


def _write(p, lines: list[str]) -> None:
    p.write_text("\n".join(lines), encoding="utf-8")


def _set(p, at: int, field: str, value: str) -> None:
    lines = _lines(p)
    cells = lines[at - 1].split(",")
    cells[FIELDS.index(field)] = value
    lines[at - 1] = ",".join(cells)
    _write(p, lines)


def _drop(p, *ats: int) -> None:
    _write(p, [t for i, t in enumerate(_lines(p), 1) if i not in ats])


def _error(p, at: int | None, field: str | None = None, *words: str) -> ArtifactError:
    """Load must fail at line `at` (None: no line) naming the file, the field and each of `words`."""
    with pytest.raises(ArtifactError) as info:
        ScoreTable.load(p)
    e, msg = info.value, str(info.value)
    assert msg.startswith(f"{p}:{at}: " if at else f"{p}: "), msg
    assert p.name in msg and e.line == at and e.path == str(p)
    assert e.field == field and (field is None or msg.endswith(f"(field '{field}')")), msg
    for w in words:
        assert w in msg, msg
    return e


# ---- a valid table --------------------------------------------------------------------------------

def test_valid_table_round_trips_exactly(path):
    t = _table()
    again = ScoreTable.load(path)
    assert again.rows == t.rows
    assert report(again, weights=WEIGHTS) == report(t, weights=WEIGHTS)
    assert again.heads == ["base", "neg", "pos"] and again.checkpoints == ["1", "2"]


def test_odd_ids_round_trip_and_lines_count_physical_lines(tmp_path):
    t = ScoreTable([replace(r, question_id='Q "1", first\nsecond', benchmark="tøy") if r.question_id == "q0" else r
                    for r in _table().rows])
    p = tmp_path / "odd.csv"
    t.save(p)
    assert ScoreTable.load(p).rows == t.rows
    # every q0 row spans two lines; the first q1 base row starts after q0's four base rows
    lines = _lines(p)
    at = 2 + 4 * 2
    assert lines[at - 1].startswith("q1,toy,0,base,")
    _write(p, lines[:at - 1] + [lines[at - 1].replace(",base,", ",bsae,")] + lines[at:])
    _error(p, at, "head", "q1", "unknown head 'bsae'")


def test_spellings_of_true_and_false_blank_lines_and_row_order_are_accepted(path):
    lines = _lines(path)
    body = [t[:-1] + {"0": "False", "1": "true"}[t[-1]] for t in lines[1:-1]]
    random.Random(1).shuffle(body)
    _write(path, [lines[0], ""] + body + ["", ""])
    again = ScoreTable.load(path)
    assert sorted(again.rows, key=repr) == sorted(_table().rows, key=repr)
    assert report(again, weights=WEIGHTS)["results"] == report(_table(), weights=WEIGHTS)["results"]


def test_tiny_positive_float_noise_is_accepted(path):
    _set(path, line("pos", "1", "q2", 1), "logprob", "5e-05")
    assert ScoreTable.load(path).rows[line("pos", "1", "q2", 1) - 2].logprob == 5e-05


# ---- the file as a whole --------------------------------------------------------------------------

def test_missing_and_repeated_columns(path):
    lines = _lines(path)
    _write(path, [lines[0].replace("gold", "gould")] + lines[1:])
    _error(path, 1, None, "not a likra score table", "'gold'")
    _write(path, [lines[0] + ",gold"] + [t + ",1" for t in lines[1:-1]] + [""])
    _error(path, 1, None, "['gold']", "more than once")


def test_empty_file_and_header_only(path):
    header = _lines(path)[0]
    path.write_text("")
    _error(path, 1, None, "empty file")
    path.write_text(header + "\n")
    _error(path, None, None, "no rows")


def test_truncated_line(path):
    data = path.read_text()
    path.write_text(data[:-20])  # the last row loses its last cells
    _error(path, 101, None, "where the header has 11", "truncated")


def test_rows_missing_from_a_truncated_file(path):
    _write(path, _lines(path)[:line("neg", "2", "q4", 1)])  # q4 keeps choices 0 and 1 under neg at '2'
    _error(path, line("neg", "2", "q4", 0), "choice", "'q4'", "has 2 choices, but 4 under head 'base'")
    _write(path, _lines(path)[:line("neg", "2", "q2", 3)])  # q3 and q4 gone under neg at '2'
    _error(path, None, None, "head 'neg' at checkpoint '2' lacks 2 of the 5 questions", "'q3'")
    _write(path, _lines(path)[:line("pos", "2", "q4", 3)])  # neg gone at '2'
    _error(path, None, None, "head 'neg' has no rows at checkpoint '2', where 'pos' has")


def test_a_table_cut_between_checkpoints_is_a_valid_smaller_table(path):
    """Known limit: a file cut exactly after a whole checkpoint is a complete table of fewer checkpoints,
    and nothing in the CSV says more were scored (that needs a row count or digest kept elsewhere)."""
    _write(path, _lines(path)[:line("neg", "1", "q4", 3)])
    assert ScoreTable.load(path).checkpoints == ["1"]


def test_invalid_utf8_and_nul_bytes(path):
    data = path.read_bytes()
    at = line("base", "-", "q1", 2)
    start = sum(len(t) + 1 for t in data.split(b"\n")[:at - 1])
    path.write_bytes(data[:start] + b"\xc3" + data[start + 1:])
    _error(path, at, None, "not UTF-8")
    path.write_bytes(data[:start] + b"\x00" + data[start + 1:])  # a question id with a NUL: another question
    with pytest.raises(ArtifactError, match="choice 2 is missing"):
        ScoreTable.load(path)


# ---- one cell -------------------------------------------------------------------------------------

CELLS = [
    ("choice", "x", "not an integer"), ("choice", "1.0", "not an integer"), ("choice", "-1", "count from 0"),
    ("n_tokens", "0", "at least one token"), ("n_tokens", "2.5", "not an integer"),
    ("n_tokens", " 2", "not an integer"), ("n_chars", "-1", "cannot be negative"),
    ("n_bytes", "3", "fewer than n_chars 4"), ("n_bytes", "", "not an integer"),
    ("logprob", "nan", "not a finite"), ("logprob", "NaN", "not a finite"), ("logprob", "inf", "not a finite"),
    ("logprob", "-inf", "not a finite"), ("logprob", "-1e999", "not a finite"), ("logprob", "abc", "not a number"),
    ("logprob", "", "not a number"), ("logprob", "0.5", "cannot be positive"), ("logprob", " -2.0", "plain decimal"),
    ("logprob", "-1_000.5", "plain decimal"),
    ("gold", "yes", "expected one of 0, 1"), ("gold", "", "expected one of"), ("gold", "2", "expected one of"),
    ("gold", "TRUE", "expected one of"), ("greedy", "no", "expected one of"),
    ("head", "pso", "unknown head 'pso'"), ("head", "", "unknown head"), ("head", "Pos", "unknown head"),
    ("checkpoint", "v2", "neither a number"), ("checkpoint", "-", "neither a number"), ("checkpoint", "", "neither"),
    ("checkpoint", "1.5", "neither a number"), ("benchmark", "", "empty benchmark"),
]


@pytest.mark.parametrize("field,value,words", CELLS)
def test_bad_cell(path, field, value, words):
    at = line("pos", "1", "q2", 1)
    _set(path, at, field, value)
    _error(path, at, field, "question 'q2'", words)


def test_base_rows_have_no_checkpoint_and_ids_are_not_empty(path):
    at = line("base", "-", "q3", 0)
    _set(path, at, "checkpoint", "1")
    _error(path, at, "checkpoint", "'q3'", "base rows have checkpoint '-', not '1'")
    _set(path, at, "checkpoint", "-")
    _set(path, at, "question_id", "")
    _error(path, at, "question_id", "empty question_id")


# ---- several rows ---------------------------------------------------------------------------------

def test_duplicate_row_names_both_lines(path):
    lines = _lines(path)
    dup = line("neg", "1", "q3", 2)
    _write(path, lines[:-1] + [lines[dup - 1], ""])
    _error(path, 102, "choice", "'q3'", "head 'neg' at checkpoint '1'", f"appears twice, on line {dup} and line 102")


def test_deleted_row_is_a_missing_choice(path):
    _drop(path, line("pos", "2", "q1", 2))
    _error(path, line("pos", "2", "q1", 0), "choice", "'q1'", "choices [0, 1, 3]: choice 2 is missing")


def test_question_with_no_gold(path):
    at = line("pos", "1", "q2", 2)  # q2's gold
    _set(path, at, "gold", "0")
    _error(path, line("pos", "1", "q2", 0), "gold", "question 'q2'", "head 'pos' at checkpoint '1'", "no gold")


def test_question_with_two_golds(path):
    _set(path, line("neg", "2", "q0", 3), "gold", "1")
    a, b = line("neg", "2", "q0", 0), line("neg", "2", "q0", 3)
    _error(path, b, "gold", "'q0'", f"2 gold choices: choice 0 on line {a}, choice 3 on line {b}")


def test_gold_differs_between_heads(path):
    _set(path, line("pos", "2", "q2", 2), "gold", "0")
    _set(path, line("pos", "2", "q2", 3), "gold", "1")
    _error(path, line("pos", "2", "q2", 3), "gold", "'q2'", "gold choice 3", "but choice 2 under head 'base'")


@pytest.mark.parametrize("field,value", [("n_chars", "4"), ("n_bytes", "9")])
def test_choice_lengths_differ_between_heads(path, field, value):
    at = line("neg", "1", "q4", 2)
    _set(path, at, field, value)
    base_line = line("base", "-", "q4", 2)
    _error(path, at, field, "'q4'", f"choice 2 has {field} {value}", f"under head 'base' (line {base_line})")


def test_choice_out_of_range(path):
    at = line("pos", "1", "q1", 3)
    _set(path, at, "choice", "4")
    _error(path, line("pos", "1", "q1", 0), "choice", "'q1'", "choices [0, 1, 2, 4]: choice 3 is missing")


def test_question_without_base_rows(path):
    _drop(path, *(line("base", "-", "q1", c) for c in range(4)))
    _error(path, line("pos", "1", "q1", 0) - 4, None, "question 'q1'", "no base rows")


def test_question_missing_under_one_head(path):
    _drop(path, *(line("neg", "1", "q3", c) for c in range(4)))
    _error(path, None, None, "head 'neg' at checkpoint '1' lacks 1 of the 5 questions", "question 'q3'")


def test_question_renamed_in_one_row(path):
    at = line("pos", "2", "q2", 0)
    _set(path, at, "question_id", "q7")  # q7 (one row, not gold) comes first, then q2 without choice 0
    _error(path, at, "gold", "question 'q7' of 'toy' under head 'pos' at checkpoint '2' has no gold choice")
    _set(path, at, "gold", "1")
    _error(path, at + 1, "choice", "'q2'", "choices [1, 2, 3]: choice 0 is missing")


# ---- in memory ------------------------------------------------------------------------------------

def test_validate_in_memory_names_the_question_and_row():
    rows = _table().rows
    validate(ScoreTable(rows))
    with pytest.raises(ArtifactError) as info:
        validate(ScoreTable(rows + [rows[45]]))
    e = info.value
    assert e.line is None and e.path is None
    assert str(e).startswith("question 'q1' of 'toy' under head 'neg' at checkpoint '1'")
    assert "on row 45 and row 100" in str(e)
    bad = rows[:7] + [replace(rows[7], logprob=float("nan"))] + rows[8:]
    with pytest.raises(ArtifactError, match=r"^question 'q1' of 'toy' \(row 7\): logprob is nan, not a finite"):
        validate(ScoreTable(bad))
