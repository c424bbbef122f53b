"""The score table's invariants: what every row, and every table as a whole, must satisfy.

`ScoreTable.load` parses each cell's type strictly (table.py) and then calls `validate`, which also
guards tables built in memory (the engine's output). Rules:
  - each row: known head; checkpoint '-' for base, a number of examples or 'final' for a trained
    head; ids not empty; choice >= 0; logprob finite and <= 0 (up to MAX_LOGPROB of float noise);
    n_tokens >= 1; 0 <= n_chars <= n_bytes.
  - a group is one question under one head at one checkpoint (benchmark, question_id, head, checkpoint):
    its choices are 0..k-1, each once, and exactly one of them is gold;
  - all groups of a question agree on k, on the gold choice, and on each choice's n_chars and n_bytes
    (every head scores the same choice text);
  - every question has base rows; every (head, checkpoint) present covers exactly base's questions;
    every trained head is present at every checkpoint (the engine scores all heads at each one).
So a deleted, duplicated, cut-off or garbled row cannot shift an accuracy unnoticed. The first fault in
a fixed order (rows in table order, then groups, then heads) is the error. One pass with dicts: O(rows).
Stdlib only and imports nothing of likra.scoring: table.py imports it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from likra.errors import ArtifactError

from likra.config import HEAD_NAMES

if TYPE_CHECKING:
    from likra.scoring.table import ScoreRow, ScoreTable

BASE_CHECKPOINT = "-"
"""The checkpoint of base-model rows: they do not depend on training."""
KNOWN_HEADS = ("base", *HEAD_NAMES)
"""Heads a table may hold: the base model and the two trained heads."""
MAX_LOGPROB = 1e-4
"""A log-likelihood is <= 0; a float32 sum of log-softmax values may land a hair above it."""

Key = tuple[str, str, str, str]
"""A group: benchmark, question_id, head, checkpoint."""


def checkpoint_order(cp: str) -> tuple:
    """Sort key of checkpoints: by examples seen, then the named ones ('final')."""
    return (not cp.isdigit(), int(cp) if cp.isdigit() else 0, cp)


def row_fault(r: "ScoreRow") -> tuple[str, str] | None:
    """What is wrong with one row on its own, as (message, field), or None."""
    if not r.question_id:
        return "empty question_id", "question_id"
    if not r.benchmark:
        return "empty benchmark", "benchmark"
    if r.head not in KNOWN_HEADS:
        return f"unknown head {r.head!r}; known: {', '.join(KNOWN_HEADS)}", "head"
    cp = r.checkpoint
    if r.head == "base" and cp != BASE_CHECKPOINT:
        return f"base rows have checkpoint {BASE_CHECKPOINT!r}, not {cp!r}", "checkpoint"
    if r.head != "base" and not (cp == "final" or (cp.isascii() and cp.isdigit())):
        return f"checkpoint {cp!r} of head {r.head!r} is neither a number of examples nor 'final'", "checkpoint"
    if r.choice < 0:
        return f"choice is {r.choice}, but choices count from 0", "choice"
    if not math.isfinite(r.logprob):
        return f"logprob is {r.logprob}, not a finite log-likelihood", "logprob"
    if r.logprob > MAX_LOGPROB:
        return f"logprob is {r.logprob!r}, but a log-likelihood cannot be positive", "logprob"
    if r.n_tokens < 1:
        return f"n_tokens is {r.n_tokens}, but a scored continuation has at least one token", "n_tokens"
    if r.n_chars < 0:
        return f"n_chars is {r.n_chars}, but a length cannot be negative", "n_chars"
    if r.n_bytes < r.n_chars:
        return f"n_bytes is {r.n_bytes}, fewer than n_chars {r.n_chars} (UTF-8 takes 1-4 bytes a character)", "n_bytes"
    return None


def validate(table: "ScoreTable", source: str | None = None, lines: list[int] | None = None) -> None:
    """Raise ArtifactError at the first fault of `table`: a bad row, then a structural one.

    `source` is the file the table came from and `lines[i]` the file line of `table.rows[i]` (as
    `ScoreTable.load` passes them); without them messages name the question and the row's index.
    """
    check = _Checker(table, source, lines)
    groups = check.groups()
    firsts = check.questions(groups)
    check.coverage(groups, firsts)


def _under(key: Key) -> str:
    head, cp = key[2], key[3]
    return f"head {head!r}" if cp == BASE_CHECKPOINT else f"head {head!r} at checkpoint {cp!r}"


def _group(key: Key) -> str:
    return f"question {key[1]!r} of {key[0]!r} under {_under(key)}"


class _Checker:
    def __init__(self, table: ScoreTable, source: str | None, lines: list[int] | None):
        self.rows, self.source, self.lines = table.rows, source, lines

    def fail(self, message: str, i: int | None = None, field: str | None = None):
        line = self.lines[i] if self.lines is not None and i is not None else None
        raise ArtifactError(message, path=self.source, line=line, field=field)

    def at(self, i: int) -> str:
        return f"line {self.lines[i]}" if self.lines is not None else f"row {i}"

    def groups(self) -> dict[Key, dict[int, int]]:
        """Check each row; group -> {choice: row index}, in order of first appearance (a repeated choice
        is a duplicated row)."""
        groups: dict[Key, dict[int, int]] = {}
        for i, r in enumerate(self.rows):
            fault = row_fault(r)
            if fault:
                where = "" if self.lines is not None else f" of {r.benchmark!r} ({self.at(i)})"
                self.fail(f"question {r.question_id!r}{where}: {fault[0]}", i, fault[1])
            key = (r.benchmark, r.question_id, r.head, r.checkpoint)
            g = groups.setdefault(key, {})
            if r.choice in g:
                self.fail(f"{_group(key)}: choice {r.choice} appears twice, on {self.at(g[r.choice])} and "
                          f"{self.at(i)} (a duplicated row)", i, "choice")
            g[r.choice] = i
        return groups

    def group(self, key: Key, g: dict[int, int]) -> int:
        """Check one group on its own; its gold choice."""
        k = len(g)
        if max(g) != k - 1:  # no duplicates and no negatives, so this is exactly 'not 0..k-1'
            missing = next(c for c in range(k) if c not in g)
            self.fail(f"{_group(key)} has choices {sorted(g)}: choice {missing} is missing (a deleted or cut-off row)",
                      min(g.values()), "choice")
        golds = sorted(i for i in g.values() if self.rows[i].gold)
        if not golds:
            self.fail(f"{_group(key)} has no gold choice (gold is 0 on each of its {k} rows)", min(g.values()), "gold")
        if len(golds) > 1:
            where = ", ".join(f"choice {self.rows[i].choice} on {self.at(i)}" for i in golds)
            self.fail(f"{_group(key)} has {len(golds)} gold choices: {where}", golds[1], "gold")
        return self.rows[golds[0]].choice

    def questions(self, groups: dict[Key, dict[int, int]]) -> dict[tuple[str, str], tuple[Key, int]]:
        """Check every group and each against its question's first; question -> (first group, gold)."""
        firsts: dict[tuple[str, str], tuple[Key, int]] = {}
        for key, g in groups.items():
            gold = self.group(key, g)
            first = firsts.setdefault(key[:2], (key, gold))
            if first[0] != key:
                self.same(groups, first, key, gold)
        return firsts

    def same(self, groups: dict[Key, dict[int, int]], first: tuple[Key, int], key: Key, gold: int) -> None:
        """A question's group agrees with its first group on choices, gold and choice lengths."""
        (ref_key, ref_gold), ref, g = first, groups[first[0]], groups[key]
        if len(g) != len(ref):
            self.fail(f"{_group(key)} has {len(g)} choices, but {len(ref)} under {_under(ref_key)} "
                      f"(from {self.at(min(ref.values()))})", min(g.values()), "choice")
        if gold != ref_gold:
            self.fail(f"{_group(key)} has gold choice {gold} ({self.at(g[gold])}), but choice {ref_gold} under "
                      f"{_under(ref_key)} ({self.at(ref[ref_gold])})", g[gold], "gold")
        for c in range(len(g)):
            a, b = self.rows[ref[c]], self.rows[g[c]]
            if (a.n_chars, a.n_bytes) == (b.n_chars, b.n_bytes):
                continue
            name = "n_chars" if a.n_chars != b.n_chars else "n_bytes"
            self.fail(f"{_group(key)}: choice {c} has {name} {getattr(b, name)} ({self.at(g[c])}), but "
                      f"{getattr(a, name)} under {_under(ref_key)} ({self.at(ref[c])}); every head scores the "
                      f"same choice text", g[c], name)

    def coverage(self, groups: dict[Key, dict[int, int]], firsts: dict[tuple[str, str], tuple[Key, int]]) -> None:
        """Base rows for every question; each (head, checkpoint) has all of them; heads x checkpoints full."""
        by_step: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for bench, qid, head, cp in groups:
            by_step.setdefault((head, cp), set()).add((bench, qid))
        base = by_step.get(("base", BASE_CHECKPOINT), set())
        for q, (key, _) in firsts.items():
            if q not in base:
                self.fail(f"question {q[1]!r} of {q[0]!r} has no base rows (head 'base', checkpoint "
                          f"{BASE_CHECKPOINT!r}); every question is scored under the base model",
                          min(groups[key].values()))
        for head, cp in sorted(by_step):
            have = by_step[(head, cp)]
            if len(have) < len(base):  # every question present has base rows, so `have` is inside `base`
                q = next(q for q in firsts if q not in have)
                self.fail(f"head {head!r} at checkpoint {cp!r} lacks {len(base) - len(have)} of the {len(base)} "
                          f"questions scored under base, e.g. question {q[1]!r} of {q[0]!r} (a cut-off table?)")
        self.grid(by_step)

    def grid(self, by_step: dict[tuple[str, str], set]) -> None:
        trained = sorted({h for h, _ in by_step if h != "base"})
        for cp in sorted({cp for h, cp in by_step if h != "base"}, key=checkpoint_order):
            have = [h for h in trained if (h, cp) in by_step]
            for head in trained:
                if head not in have:
                    self.fail(f"head {head!r} has no rows at checkpoint {cp!r}, where {have[0]!r} has; every "
                              f"trained head is scored at every checkpoint (a cut-off table?)")
