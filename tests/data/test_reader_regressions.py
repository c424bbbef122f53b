"""Regression tests for the user-file reader: one input for each bug the fuzz test
(test_reader_fuzz.py) found, and header problems that refuse every row."""

from __future__ import annotations

import pytest

from likra.data.benchmarks import load_user_file
from likra.data.questions import DataError


# --- Header problems: every row is refused, strict and lenient alike. ---

HEADERS = [  # (header, row, field): choice columns that are not choice1..choiceN
    ("question,choice0,choice1,choice2,answer", "q,a,b,c,0", "choice0"),  # was: choice0 silently left out
    ("question,choice1,choice2,Choice3,answer", "q,a,b,c,0", "choice1"),  # was: Choice3 silently left out
    ("question,choice01,choice02,answer", "q,a,b,0", "choice01"),  # was: 'missing field' choices
    ("question,choice1,choice3,answer", "q,a,b,0", "choice1"),
]


@pytest.mark.parametrize("header, row, fld", HEADERS, ids=[h[2] + "-" + h[0].split(",")[3] for h in HEADERS])
def test_bad_choice_columns_refuse_every_row(tmp_path, write, header, row, fld):
    p = write(tmp_path / "h.csv", f"{header}\n{row}\n\n{row}\n")
    with pytest.raises(DataError, match="choice columns must be choice1..choiceN") as e:
        load_user_file(p)
    assert (e.value.line, e.value.field) == (2, fld)
    qs = load_user_file(p, lenient=True)
    assert len(qs) == 0 and qs.skipped.count == 2


# --- The bugs the fuzz found, one input each. ---

ROW = '"question": "q", "choices": ["a", "b"]'
REFUSED = [  # (file name, content, message, field); before the fix: see the comment
    ("n.jsonl", '{' + ROW + ', "answer": ' + "1" * 5000 + '}\n', "invalid JSON: a number is too long",
     None),  # ValueError
    ("n.csv", 'question,choices,answer\nq,"[' + "1" * 5000 + ', ""b""]",0\n', "invalid JSON: a number is too long",
     "choices"),  # ValueError
    ("d.jsonl", '{' + ROW + ', "answer": 0, "x": ' + "[" * 100000 + "]" * 100000 + '}\n',
     "invalid JSON: nested too deeply", None),  # RecursionError
    ("i.jsonl", '{' + ROW + ', "answer": 0, "score": NaN}\n', "invalid JSON: NaN is not a JSON value", None),  # loaded
    ("i.csv", 'question,choices,answer\nq,"[""a"", Infinity]",0\n', "invalid JSON: Infinity",
     "choices"),  # 'wrong type'
    ("k.jsonl", '{' + ROW + ', "answer": 0, "answer": 1}\n', "duplicate field: 'answer'",
     "answer"),  # loaded with gold 1
    ("s.jsonl", '{"question": "q\\ud800", "choices": ["a", "b"], "answer": 0}\n', "not UTF-8: \\\\ud800",
     "question"),  # loaded
    ("s.csv", 'question,choices,answer\nq,"[""a\\udc00"", ""b""]",0\n', "not UTF-8: \\\\udc00", "choices"),  # loaded
    ("f.jsonl", '{' + ROW + ', "answer": 1.5}\n', "wrong type: answer 1.5 is not a whole number", "answer"),
    ("r.jsonl", '{' + ROW + ', "answer": 1.0000000000000001}\n', "wrong type: answer 1.0000000000000001",
     "answer"),  # 'wrong type'
    ("o.jsonl", '{' + ROW + ', "answer": 1e400}\n', "wrong type: answer 1e400 is not", "answer"),
    ("e.csv", 'question,choices,answer\nq, ,0\n', "missing field", "choices"),  # 'invalid JSON'
]


@pytest.mark.parametrize("name, content, message, fld", REFUSED, ids=[r[0] for r in REFUSED])
def test_found_bugs_now_refused(tmp_path, write, assert_located, name, content, message, fld):
    p = write(tmp_path / name, content)
    with pytest.raises(DataError, match=message) as e:
        load_user_file(p)
    assert_located(e.value, p, 2 if name.endswith(".csv") else 1, fld)
    qs = load_user_file(p, lenient=True)
    assert len(qs) == 0 and qs.skipped.count == 1


def test_found_bugs_now_read_as_written(tmp_path, write):
    # An integral JSON number is an index, as documented ("a JSON number (the index)"); was 'wrong type'.
    p = write(tmp_path / "f.jsonl", '{"question": "q", "choices": ["a", "b", "c"], "answer": 2.0}\n'
                                    '{"question": "r", "choices": ["a", "b", "c"], "answer": 1e0}\n')
    assert [q.gold for q in load_user_file(p)] == [2, 1]
    # CRLF inside a quoted cell is a line break like any other; was '\r\n' in the question.
    p = write(tmp_path / "c.csv", b'question,choice1,choice2,answer\r\n"two\r\nlines",a,b,0\r\nx,a,b,1\r\n')
    qs = load_user_file(p)
    assert qs[0].query == "two\nlines" and [q.id for q in qs] == ["2", "4"]
    # Spaces before a quoted cell, as people write CSV by hand; was ' "Paris' / ' France"' (wrong number of
    # cells) or, where the count fit, choices with the quotes in their text.
    p = write(tmp_path / "s.csv", 'question, choice1, choice2, answer\n"Capital?", "Paris, France", "London", 0\n'
                                  'Which?, "a", "b", "b"\n')
    qs = load_user_file(p)
    assert qs[0].choices == ("Paris, France", "London") and qs[1].choices == ("a", "b") and qs[1].gold == 1
