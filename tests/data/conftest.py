"""Shared fixtures for the data-layer tests: the real data (skipped when absent), small test files
and hand-made questions. Helpers are fixtures, not imports, so that this conftest never clashes
with another tests folder's conftest module."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from likra.data.benchmarks import QuestionSet, load_questions
from likra.data.questions import DataError, Question
from likra.paths import data_root


@lru_cache(maxsize=None)
def _load(name: str, split: str) -> QuestionSet:
    return load_questions(name, split)


@pytest.fixture(scope="session")
def real():
    """load(name, split) for the real data, cached for the session; skips when the data is absent."""
    if not (data_root() / "arc" / "ARC-Challenge-test.jsonl").is_file():
        pytest.skip(f"benchmark data not found under {data_root()} (set LIKRA_DATA)")
    return _load


def _write(path: Path, text: str | bytes) -> Path:
    """Write a small test file (bytes are written as-is, for encoding tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _assert_located(err: DataError, path: Path, line: int | None, field: str | None) -> None:
    """The error names the file, the line and the field, in its attributes and its message."""
    assert err.path == str(path)
    assert err.line == line
    assert err.field == field
    msg = str(err)
    assert f"{path}:{line}" in msg if line is not None else str(path) in msg
    if field:
        assert f"field '{field}'" in msg


def _mcq(qid: str, choices: tuple[str, ...], gold: int, benchmark: str = "toy", query: str | None = None) -> Question:
    """A toy question in the ARC prompt."""
    query = query if query is not None else f"question {qid}?"
    return Question(qid, benchmark, f"Question: {query}\nAnswer:", choices, gold, query=query)


@pytest.fixture
def write():
    """write(path, text_or_bytes) -> path."""
    return _write


@pytest.fixture
def assert_located():
    """assert_located(err, path, line, field): the error names all three."""
    return _assert_located


@pytest.fixture
def mcq():
    """mcq(id, choices, gold, benchmark='toy', query=None) -> a Question in the ARC prompt."""
    return _mcq


@pytest.fixture
def toy_questions() -> list[Question]:
    """Ten questions with distinct choices: 'q<i>-c<j>'; gold is choice i % 3."""
    return [_mcq(f"q{i}", tuple(f"q{i}-c{j}" for j in range(4)), i % 3) for i in range(10)]
