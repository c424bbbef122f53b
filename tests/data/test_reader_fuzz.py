"""Fuzz test of the user-file reader (`load_user_file`, docs/DATA_FORMAT.md).

A seeded generator (random.Random, fixed seeds: deterministic, no hypothesis) makes random valid
question sets (unicode, quotes, commas, backslashes, line breaks inside JSON strings and quoted CSV
cells, surrounding spaces, 2-6 choices, answer by index or by text, ids present, absent or empty)
and writes each as JSONL and in both CSV layouts (choice1..N columns, one JSON `choices` column).
It then mutates rows, one mutation per row, whose outcome is known by construction:

- BAD mutations must stop a strict load and be skipped (and counted) by a lenient one;
- BENIGN variants (extra fields, blank lines, CRLF, a BOM, spaces, answer as text, `1.0` as an
  index, ids left out or empty, numbers as choices) must load exactly the intended question.

Property, for every generated file:
- strict: either a DataError naming the file, the 1-based line of the first bad row and its field
  (never another exception type), or exactly the intended questions (id, context, choices, gold);
- lenient: exactly the intended good questions, and `skipped` counts exactly the bad rows, each
  under the reason the doc's error table gives it.

The generator is in fuzz_user_files.py; regression tests for the bugs it found in
test_reader_regressions.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from likra.data.benchmarks import load_user_file
from likra.data.questions import DataError
from tests.data.fuzz_user_files import FORMATS, SEEDS, Case, bad_mutations, generate


# --- The property. ---


def check(case: Case, path) -> None:
    path.write_bytes(case.data)
    why = f"{case.name}: bad rows {[(ln, b.mutation) for ln, b in case.bad]}\n{case.data[:3000]!r}"

    qs = load_user_file(path, lenient=True)
    assert list(qs) == case.good, why
    assert qs.skipped.count == len(case.bad), f"{qs.skipped}\n{why}"
    reasons = Counter(f"{b.category} [{b.field}]" if b.field else b.category for _, b in case.bad)
    assert qs.skipped.reasons == reasons, f"{qs.skipped}\n{why}"
    # Examples: file:line and message of skipped rows (rows the reader skips come before rows the
    # parser skips, so not necessarily the first ones in the file).
    assert len(qs.skipped.examples) == min(len(case.bad), 5)
    expected = [f"{path}:{line}: {b.category}" for line, b in case.bad]
    for example in qs.skipped.examples:
        assert any(example.startswith(e) for e in expected), f"{example}\n{why}"

    try:
        qs = load_user_file(path)
    except DataError as e:
        assert case.bad, f"strict load failed on a file with no bad row: {e}\n{why}"
        line, first = case.bad[0]
        assert (e.path, e.line, e.field) == (str(path), line, first.field), f"{e}\nexpected line {line} {first}\n{why}"
        assert e.reason.startswith(first.category), f"{e}\nexpected {first}\n{why}"
        assert str(e).startswith(f"{path}:{line}: {first.category}"), why
    else:
        assert not case.bad, f"strict load accepted a bad row: {case.bad[0]}\n{why}"
        assert list(qs) == case.good, why


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")  # one folder for all (a tmp_path each costs more than a check)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", SEEDS)
def test_user_file_fuzz(fuzz_dir, seed, fmt):
    for mutated in (False, True):
        case = generate(seed, fmt, mutated)
        folder = fuzz_dir / f"{seed}-{fmt}-{'mutated' if mutated else 'clean'}"
        folder.mkdir()
        check(case, folder / case.name)


def test_strict_load_stops_at_the_first_bad_row_in_file_order(tmp_path, write, assert_located):
    p = write(tmp_path / "o.jsonl", '{"question": "q", "choices": ["a", "b"], "answer": 5}\n{"question": \n')
    with pytest.raises(DataError, match="gold index out of range") as e:  # the reader's invalid JSON is line 2
        load_user_file(p)
    assert_located(e.value, p, 1, "answer")


def test_generator_is_deterministic_and_covers_every_mutation():
    assert generate(3, "csv_json", True).data == generate(3, "csv_json", True).data
    for fmt in FORMATS:
        seen_bad, seen_benign = Counter(), Counter()
        for seed in SEEDS:
            for mutated in (False, True):
                case = generate(seed, fmt, mutated)
                seen_bad.update(case.mutations)
                seen_benign.update(case.benign)
        assert set(bad_mutations(fmt)) <= set(seen_bad), (fmt, set(bad_mutations(fmt)) - set(seen_bad))
        assert "id_collision" in seen_bad  # an explicit id equal to a later row's line number
        wanted = {"blank_line", "crlf", "bom", "answer_as_text", "empty_id", "numeric_choices", "agreeing_digit_choice"}
        wanted |= ({"integral_float_answer", "jsonl_digit_text_answer"} if fmt == "jsonl"
                   else {"space_before_quoted_cell"})
        assert wanted <= set(seen_benign), (fmt, wanted - set(seen_benign))
