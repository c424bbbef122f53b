"""The score table held columnar: one numpy array per field, and each question's choices as a matrix.

`ScoreTable.columns()` builds `Columns` once from the rows (and again after `extend`); the rules
(rules.py) read only `choice_matrix`, so an accuracy costs a few array operations, not a Python pass
over every row. A `ChoiceMatrix` lays one head at one checkpoint out as [question, choice]:
  keys    (benchmark, question_id) of every question in the table, sorted; the same list for every
          head and checkpoint, so matrices of different heads line up row by row;
  scores  float64 [n_questions, max_choices]: the normalised log-likelihood (logprob divided by
          max(characters, tokens or bytes, 1), as lm-eval's acc_norm), NaN where the question has no
          such choice under this head (fewer choices, or not scored under it);
  gold    int [n_questions]: the gold choice, -1 where the question has no gold row under this head.
Base rows ignore the checkpoint. Where an unvalidated table repeats a (question, choice) under the
head, the row later in the table wins, as a dict built from the rows would keep it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np


if TYPE_CHECKING:
    from likra.scoring.table import ScoreRow, ScoreTable

NORMS = ("none", "char", "token", "byte")
"""How a summed log-likelihood is normalised: not at all, or per character, token or UTF-8 byte."""

Question = tuple[str, str]
"""(benchmark, question_id)."""


@dataclass(frozen=True)
class ChoiceMatrix:
    """One head at one checkpoint, as [question, choice] arrays (read-only: they are cached)."""

    keys: list[Question]
    """(benchmark, question_id) of row i; sorted, identical for every head and checkpoint of a table."""
    scores: np.ndarray
    """float64 [n_questions, max_choices]: normalised log-likelihoods, NaN where there is no such choice."""
    gold: np.ndarray
    """int64 [n_questions]: the gold choice, -1 where the question has none under this head."""


_FIELDS = operator.attrgetter("benchmark", "question_id", "choice", "head", "checkpoint", "logprob",
                              "n_tokens", "n_chars", "n_bytes", "gold")


class Columns:
    """A table's rows as arrays (row i of the table is element i), built in one pass over the rows."""

    def __init__(self, rows: Sequence["ScoreRow"]):
        self.n_rows = len(rows)
        bench, qid, choice, head, cp, logprob, n_tokens, n_chars, n_bytes, gold = (
            zip(*map(_FIELDS, rows)) if rows else ((),) * 10)
        qindex: dict[Question, int] = {}
        first_seen = np.fromiter((qindex.setdefault(k, len(qindex)) for k in zip(bench, qid)), np.int64, self.n_rows)
        unsorted = list(qindex)
        order = sorted(range(len(unsorted)), key=unsorted.__getitem__)
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        self.keys: list[Question] = [unsorted[i] for i in order]
        self.question = rank[first_seen]
        self.choice = np.fromiter(choice, np.int64, self.n_rows)
        if self.n_rows and self.choice.min() < 0:
            i = int(np.argmax(self.choice < 0))
            raise ValueError(f"question {qid[i]}: choice {choice[i]} is negative; choices count from 0")
        self.max_choices = int(self.choice.max()) + 1 if self.n_rows else 0
        self.head, self.head_names = _codes(head)
        self.checkpoint, self.checkpoint_names = _codes(cp)
        self.logprob = np.fromiter(logprob, np.float64, self.n_rows)
        self.lengths = {"token": np.fromiter(n_tokens, np.int64, self.n_rows),
                        "char": np.fromiter(n_chars, np.int64, self.n_rows),
                        "byte": np.fromiter(n_bytes, np.int64, self.n_rows)}
        self.gold = np.fromiter(gold, bool, self.n_rows)
        self._matrices: dict[tuple[str, str | None, str], ChoiceMatrix] = {}

    def rows_of(self, head: str, checkpoint: str | None) -> np.ndarray:
        """Indices of the rows of `head` (at `checkpoint` unless it is None or the head is base), in table order."""
        mask = self.head == self.head_names.get(head, -1)
        if head != "base" and checkpoint is not None:
            mask &= self.checkpoint == self.checkpoint_names.get(checkpoint, -1)
        return np.flatnonzero(mask)

    def has(self, head: str, checkpoint: str | None) -> bool:
        """Whether any row is of `head` (at `checkpoint`; base rows ignore it), as `select` would find."""
        return len(self.rows_of(head, checkpoint)) > 0

    def matrix(self, head: str, checkpoint: str | None, norm: str) -> ChoiceMatrix:
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
        key = (head, None if head == "base" else checkpoint, norm)
        if key not in self._matrices:
            self._matrices[key] = self._build(*key)
        return self._matrices[key]

    def _build(self, head: str, checkpoint: str | None, norm: str) -> ChoiceMatrix:
        idx = self.rows_of(head, checkpoint)
        cell = self.question[idx] * self.max_choices + self.choice[idx]
        # keep the last row of each (question, choice): the first of the reversed rows
        _, last = np.unique(cell[::-1], return_index=True)
        idx, cell = idx[::-1][last], cell[::-1][last]
        values = self.logprob[idx]
        if norm != "none":
            values = values / np.maximum(self.lengths[norm][idx], 1)
        scores = np.full(len(self.keys) * self.max_choices, np.nan)
        scores[cell] = values
        gold = np.full(len(self.keys), -1, np.int64)
        golden = self.gold[idx]
        # a valid table has one gold row per question; of several, the last choice (as the rules had it)
        np.maximum.at(gold, self.question[idx][golden], self.choice[idx][golden])
        scores = scores.reshape(len(self.keys), self.max_choices)
        scores.flags.writeable = gold.flags.writeable = False
        return ChoiceMatrix(self.keys, scores, gold)


def _codes(values: Sequence[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Each string as a small integer code, and code by string."""
    names: dict[str, int] = {}
    codes = np.fromiter((names.setdefault(v, len(names)) for v in values), np.int64, len(values))
    return codes, names


def choice_matrix(table: "ScoreTable", head: str, checkpoint: str | None = None, norm: str = "char") -> ChoiceMatrix:
    """`head`'s normalised log-likelihoods at `checkpoint` as [question, choice] (base ignores the
    checkpoint; None takes the head's rows at every checkpoint, the later row winning). Computed once
    per table, head, checkpoint and norm; the arrays are read-only."""
    return table.columns().matrix(head, checkpoint, norm)
