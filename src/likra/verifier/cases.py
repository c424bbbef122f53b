"""Verification cases: (question, one candidate answer, is it correct), and k-fold splits by question.

Two sources:
- TruthfulQA.csv (sylinrl/TruthfulQA): every (question, answer) pair of a row, correct answers from
  'Correct Answers', incorrect ones from 'Incorrect Answers' (each a '; '-separated list). Answers
  are formatted as upstream's `split_multi_answer` / `format_best` do for its MC evaluation: stripped,
  and closed with a period when they do not end in one.
- any list of multiple-choice `Question`s: the gold choice is correct, every other choice incorrect.
Stdlib only (no torch, no numpy): reading cases never loads a model.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from likra.data.questions import Question
from likra.data.readers import SkipReport, handle, read_csv
from likra.errors import ConfigError, DataError

TRUTHFULQA_CSV = Path("truthfulqa") / "TruthfulQA.csv"
"""Where the TruthfulQA CSV lies under the data root."""
TRUTHFULQA_COLUMNS = ("Question", "Best Answer", "Correct Answers", "Incorrect Answers")
"""The columns the reader needs (the file has more: Type, Category, Source, ...)."""


@dataclass(frozen=True)
class VerifyCase:
    """One candidate answer to one question, with whether it is correct."""

    qid: str
    """Question id, unique within its source (TruthfulQA.csv: the 0-based data row)."""
    question: str
    """The bare question text; the prompt is built from it when scoring (features.py)."""
    answer: str
    """The candidate answer, without a leading space."""
    is_correct: bool
    """True for a correct answer, False for an incorrect one."""
    is_best: bool = False
    """The question's single reference answer for MC1 (TruthfulQA's 'Best Answer'; a Question's gold)."""


@dataclass
class CaseSet:
    """Cases read from one source, and what reading left out."""

    cases: list[VerifyCase]
    """Every case, question by question, in file order."""
    source: str
    """Where they came from (a file path, or 'questions:BENCHMARK')."""
    skipped: SkipReport = field(default_factory=SkipReport)
    """Rows left out in lenient mode (always empty in strict mode, which raises instead)."""
    dropped_answers: int = 0
    """Answers dropped inside kept rows: repeats within a list, and answers listed as both correct and
    incorrect (an answer cannot be both; TruthfulQA.csv has 2, 'Unknown')."""

    @property
    def n_questions(self) -> int:
        return len({c.qid for c in self.cases})


def close_answer(text: str) -> str:
    """Upstream TruthfulQA's formatting of a reference answer: stripped, ending in a period."""
    text = text.strip()
    return text if not text or text.endswith(".") else text + "."


def split_answers(cell: str) -> list[str]:
    """A ';'-separated answer list, as upstream's `split_multi_answer`: empty parts dropped."""
    return [close_answer(a) for a in cell.split(";") if a.strip()]


def read_truthfulqa(path: str | os.PathLike, lenient: bool = False, limit: int | None = None) -> CaseSet:
    """Cases from a TruthfulQA.csv; a bad row is a DataError naming file, line and field (lenient:
    skipped and counted). `limit` keeps the first that many questions."""
    rows, skipped = read_csv(path, lenient=lenient)
    if rows:
        missing = [c for c in TRUTHFULQA_COLUMNS if c not in rows[0][1]]
        if missing:
            raise DataError(f"not a TruthfulQA CSV: no column(s) {', '.join(missing)}", path=str(path), line=1)
    cases, dropped, kept = [], 0, 0
    for index, (line, row) in enumerate(rows):
        if limit is not None and kept >= limit:
            break
        try:
            row_cases, row_dropped = _truthfulqa_row(str(index), row)
        except DataError as e:
            handle(DataError(e.reason, path=str(path), line=line, field=e.field), lenient, skipped)
            continue
        cases += row_cases
        dropped += row_dropped
        kept += 1
    if not cases:
        raise DataError("no usable rows", path=str(path))
    return CaseSet(cases, str(path), skipped, dropped)


def _truthfulqa_row(qid: str, row: dict) -> tuple[list[VerifyCase], int]:
    question = row["Question"].strip()
    if not question:
        raise DataError("empty question", field="Question")
    best = close_answer(row["Best Answer"])
    if not best:
        raise DataError("empty best answer", field="Best Answer")
    raw_true, raw_false = split_answers(row["Correct Answers"]), split_answers(row["Incorrect Answers"])
    for name, answers in (("Correct Answers", raw_true), ("Incorrect Answers", raw_false)):
        if not answers:
            raise DataError("no answers in the list", field=name)
    true, false = list(dict.fromkeys(raw_true)), list(dict.fromkeys(raw_false))
    both = set(true) & set(false)
    if best in both or best not in true:
        # MC1 needs the best answer among the correct ones and nowhere else
        raise DataError(f"the best answer {best!r} is not (only) among the correct answers", field="Best Answer")
    dropped = len(raw_true) - len(true) + len(raw_false) - len(false) + 2 * len(both)
    true, false = [a for a in true if a not in both], [a for a in false if a not in both]
    if not false:
        raise DataError("no incorrect answer left once answers listed as both are dropped", field="Incorrect Answers")
    cases = [VerifyCase(qid, question, a, True, a == best) for a in true]
    cases += [VerifyCase(qid, question, a, False) for a in false]
    return cases, dropped


def truthfulqa_cases(data_root: str | os.PathLike | None = None, lenient: bool = False,
                     limit: int | None = None) -> CaseSet:
    """The TruthfulQA.csv under the data root (--data-root, $LIKRA_DATA, ../shared/data)."""
    from likra.paths import data_root as resolve_root

    path = resolve_root(data_root) / TRUTHFULQA_CSV
    if not path.is_file():
        raise DataError("file not found (set $LIKRA_DATA to the folder holding truthfulqa/TruthfulQA.csv)",
                        path=str(path))
    return read_truthfulqa(path, lenient=lenient, limit=limit)


def cases_from_questions(questions: Sequence[Question]) -> CaseSet:
    """Gold = correct (and the MC1 reference), every other choice incorrect. Needs each question's
    bare text (`Question.query`): the verifier builds its own prompt."""
    cases = []
    for q in questions:
        if q.choice_contexts is not None:
            raise DataError("per-choice contexts (Winogrande-style) have no single question to verify answers "
                            "against", path=f"question {q.id}", field="choice_contexts")
        if not q.query.strip():
            raise DataError("no bare question text (Question.query)", path=f"question {q.id}", field="query")
        cases += [VerifyCase(f"{q.benchmark}/{q.id}", q.query, c, i == q.gold, i == q.gold)
                  for i, c in enumerate(q.choices)]
    if not cases:
        raise DataError("no questions")
    return CaseSet(cases, f"questions:{','.join(sorted({q.benchmark for q in questions}))}")


def question_folds(cases: Sequence[VerifyCase], k: int, seed: int = 0) -> list[int]:
    """Fold (0..k-1) of each case, split BY QUESTION: all answers of a question share a fold, so a
    calibrator never sees another answer to a question it is tested on. Questions are shuffled with
    `seed` and dealt round-robin, so fold sizes differ by at most one question."""
    qids = list(dict.fromkeys(c.qid for c in cases))
    if not 2 <= k <= len(qids):
        raise ConfigError(f"folds must be between 2 and the number of questions ({len(qids)}), got {k}",
                          field="folds")
    random.Random(seed).shuffle(qids)
    fold_of = {q: i % k for i, q in enumerate(qids)}
    return [fold_of[c.qid] for c in cases]
