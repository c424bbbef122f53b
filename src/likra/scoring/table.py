"""The score table: one row per question x choice x head x checkpoint. Everything after scoring reads it.

Saved as CSV (pandas, spreadsheets and the stdlib all read it). Base-model rows carry the checkpoint
`BASE_CHECKPOINT` because they do not depend on training; rules pair them with any checkpoint.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator

from likra.io_utils import atomic_write_text

BASE_CHECKPOINT = "-"


@dataclass(frozen=True)
class ScoreRow:
    question_id: str
    """Id of the question (unique within its benchmark)."""
    benchmark: str
    """Registry name of the benchmark."""
    choice: int
    """Index of the choice within the question."""
    head: str
    """'base', 'pos' or 'neg' (any adapter name)."""
    checkpoint: str
    """Examples seen by the head when saved (e.g. '256'), 'final', or '-' for the base model."""
    logprob: float
    """Summed log-likelihood of the continuation's tokens given the context."""
    n_tokens: int
    """Number of continuation tokens."""
    n_chars: int
    """Characters of the choice text (lm-eval acc_norm counts these)."""
    n_bytes: int
    """UTF-8 bytes of the choice text."""
    gold: bool
    """Whether this choice is the correct answer."""
    greedy: bool
    """Whether every continuation token is the model's argmax (lm-eval's is_greedy)."""


_FIELDS = [f.name for f in fields(ScoreRow)]
_TYPES = {"choice": int, "n_tokens": int, "n_chars": int, "n_bytes": int, "logprob": float}


def _parse(raw: dict[str, str]) -> ScoreRow:
    vals: dict = {}
    for name in _FIELDS:
        v = raw[name]
        if name in ("gold", "greedy"):
            vals[name] = v in ("1", "True", "true")
        else:
            vals[name] = _TYPES.get(name, str)(v)
    return ScoreRow(**vals)


class ScoreTable:
    """A list of ScoreRow with lookup by (head, checkpoint); immutable once built."""

    def __init__(self, rows: Iterable[ScoreRow] = ()):
        self.rows: list[ScoreRow] = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ScoreRow]:
        return iter(self.rows)

    def extend(self, other: "ScoreTable | Iterable[ScoreRow]") -> None:
        self.rows.extend(other)

    @property
    def heads(self) -> list[str]:
        return sorted({r.head for r in self.rows})

    @property
    def checkpoints(self) -> list[str]:
        """Trained-head checkpoints present, in order of examples seen ('final' last)."""
        cps = {r.checkpoint for r in self.rows if r.checkpoint != BASE_CHECKPOINT}
        return sorted(cps, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))

    def select(self, head: str, checkpoint: str | None = None) -> list[ScoreRow]:
        """Rows of one head; base rows ignore `checkpoint`."""
        return [r for r in self.rows if r.head == head and (head == "base" or checkpoint is None or r.checkpoint == checkpoint)]

    def save(self, path: str | Path) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            d = asdict(r)
            d["logprob"] = repr(r.logprob)  # repr round-trips a float exactly
            d["gold"], d["greedy"] = int(r.gold), int(r.greedy)
            w.writerow(d)
        atomic_write_text(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "ScoreTable":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(_FIELDS) - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: not a likra score table (missing columns {sorted(missing)})")
            return cls(_parse(raw) for raw in reader)
