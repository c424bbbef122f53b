"""Readers: rows with 1-based lines, located errors, lenient skips that are counted."""

from __future__ import annotations

import pytest
from likra.data.questions import DataError
from likra.data.readers import SkipReport, count_lines, get_field, read_csv, read_jsonl, read_labels


def test_jsonl_rows_keep_their_line_numbers(tmp_path, write):
    p = write(tmp_path / "a.jsonl", '{"a": 1}\n\n{"a": 2}\r\n')
    rows, skipped = read_jsonl(p)
    assert rows == [(1, {"a": 1}), (3, {"a": 2})]  # the blank line is not a row, but still counts
    assert not skipped and skipped.count == 0


def test_jsonl_bad_json_names_the_line(tmp_path, write, assert_located):
    p = write(tmp_path / "a.jsonl", '{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(DataError, match="invalid JSON") as e:
        read_jsonl(p)
    assert_located(e.value, p, 2, None)


def test_jsonl_row_that_is_not_an_object(tmp_path, write, assert_located):
    p = write(tmp_path / "a.jsonl", '{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match="not a JSON object.*array") as e:
        read_jsonl(p)
    assert_located(e.value, p, 2, None)


def test_jsonl_wrong_encoding_names_the_line(tmp_path, write, assert_located):
    p = write(tmp_path / "a.jsonl", b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8: byte 0xe9") as e:
        read_jsonl(p)
    assert_located(e.value, p, 2, None)


def test_jsonl_utf8_bom_is_accepted(tmp_path, write):
    p = write(tmp_path / "a.jsonl", b'\xef\xbb\xbf{"a": "caf\xc3\xa9"}\n')
    assert read_jsonl(p)[0] == [(1, {"a": "café"})]


def test_jsonl_lenient_skips_and_records_every_bad_row(tmp_path, write):
    p = write(tmp_path / "a.jsonl", b'{"a": 1}\nnope\n[1]\n{"a": "\xff"}\n{"a": 5}\n')
    rows, skipped = read_jsonl(p, lenient=True)
    assert [line for line, _ in rows] == [1, 5]
    assert skipped.count == 3
    assert skipped.reasons == {"invalid JSON": 1, "not a JSON object": 1, "not UTF-8": 1}
    assert skipped.examples[0].startswith(f"{p}:2: invalid JSON")
    text = str(skipped)
    assert "skipped 3 row(s)" in text and f"{p}:4" in text


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_csv_rows_are_dicts_and_lines_are_where_rows_start(tmp_path, write):
    p = write(tmp_path / "a.csv", 'q,a\n"two\nlines",1\n\nx,2\n')
    rows, _ = read_csv(p)
    assert rows == [(2, {"q": "two\nlines", "a": "1"}), (5, {"q": "x", "a": "2"})]


def test_csv_wrong_cell_count_and_lenient(tmp_path, write, assert_located):
    p = write(tmp_path / "a.csv", "q,a\nx,1\ny,2,3\nz,4\n")
    with pytest.raises(DataError, match="wrong number of cells") as e:
        read_csv(p)
    assert_located(e.value, p, 3, None)
    rows, skipped = read_csv(p, lenient=True)
    assert [r["q"] for _, r in rows] == ["x", "z"] and skipped.count == 1


def test_csv_wrong_encoding_names_the_line(tmp_path, write, assert_located):
    p = write(tmp_path / "a.csv", b"q,a\nx,1\ncaf\xe9,2\n")
    with pytest.raises(DataError, match="not UTF-8") as e:
        read_csv(p)
    assert_located(e.value, p, 3, None)


def test_csv_bad_quoting_is_located(tmp_path, write, assert_located):
    p = write(tmp_path / "a.csv", 'q,a\n"x"y,1\nz,2\n')
    with pytest.raises(DataError, match="invalid CSV") as e:
        read_csv(p)
    assert_located(e.value, p, 2, None)
    rows, skipped = read_csv(p, lenient=True)
    assert [line for line, _ in rows] == [3] and skipped.count == 1


def test_csv_header_problems_are_never_lenient(tmp_path, write):
    p = write(tmp_path / "a.csv", "q,q\nx,1\n")
    with pytest.raises(DataError, match="duplicate column"):
        read_csv(p, lenient=True)
    with pytest.raises(DataError, match="empty CSV"):
        read_csv(write(tmp_path / "b.csv", ""))


def test_labels_and_line_count(tmp_path, write):
    p = write(tmp_path / "l.lst", "1\n2\n")
    assert read_labels(p) == ["1", "2"] and count_lines(p) == 2
    assert count_lines(write(tmp_path / "n.txt", "a\nb")) == 2  # no final newline


def test_get_field_dotted_missing_and_wrong_type():
    row = {"question": {"stem": "s", "n": 3}, "flag": True}
    assert get_field(row, "question.stem") == "s"
    with pytest.raises(DataError, match="missing field") as e:
        get_field(row, "question.choices")
    assert e.value.field == "question.choices"
    with pytest.raises(DataError, match="expected string, got number"):
        get_field(row, "question.n")
    with pytest.raises(DataError, match="got boolean"):
        get_field(row, "flag", int)  # bool is not accepted as an int
    assert get_field(row, "absent", default=None) is None


def test_skip_report_merge_and_str():
    a, b = SkipReport(), SkipReport()
    assert str(a) == "no rows skipped"
    a.add(DataError("missing field", path="f", line=2, field="x"))
    b.add(DataError("invalid JSON: oops", path="g", line=7))
    a.merge(b)
    assert a.count == 2 and a.reasons == {"missing field [x]": 1, "invalid JSON": 1}
    assert "g:7" in str(a)


def test_data_layer_does_not_import_torch():
    import os
    import subprocess
    import sys

    code = (
        "import sys, likra.data.readers, likra.data.benchmarks, likra.data.negatives, likra.data.fewshot; "
        "sys.exit('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
