"""The score table: one row per question x choice x head x checkpoint. Everything after scoring reads it.

Saved as CSV (pandas, spreadsheets and the stdlib all read it). In memory it is a list of rows and,
built on first use, the same rows as numpy columns (`columns()`, matrix.py) that the rules read.
Base-model rows carry the checkpoint `BASE_CHECKPOINT` because they do not depend on training; rules
pair them with any checkpoint.
`ScoreTable.load` trusts nothing: each cell's type is parsed strictly here, then `validate`
(validate.py, the table's invariants) checks every value and the table's structure, so a truncated
or edited file is an ArtifactError naming file, line and field, never a changed accuracy.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator

from likra.errors import ArtifactError
from likra.io_utils import atomic_write_text
from likra.scoring.matrix import Columns
from likra.scoring.validate import BASE_CHECKPOINT, KNOWN_HEADS, checkpoint_order, validate

__all__ = ["BASE_CHECKPOINT", "KNOWN_HEADS", "ScoreRow", "ScoreTable", "validate"]


@dataclass(frozen=True)
class ScoreRow:
    question_id: str
    """Id of the question (unique within its benchmark)."""
    benchmark: str
    """Registry name of the benchmark."""
    choice: int
    """Index of the choice within the question."""
    head: str
    """'base', 'pos' or 'neg' (KNOWN_HEADS)."""
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
# what save() writes (str(int), repr(float)); int()/float() alone would also take ' 1', '1_0', 'nan'
_INT = re.compile(r"-?[0-9]+").fullmatch
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?").fullmatch
_BOOL = {"1": True, "True": True, "true": True, "0": False, "False": False, "false": False}


class _CellError(Exception):
    """A bad cell; load() adds the file and line."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message, self.field = message, field


def _int(v: str, name: str) -> int:
    if not _INT(v):
        raise _CellError(f"{name} is {v!r}, not an integer", name)
    return int(v)


def _float(v: str, name: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise _CellError(f"{name} is {v!r}, not a number", name) from None
    if math.isfinite(x) and not _FLOAT(v):  # 'nan' and 'inf' are validate()'s to refuse, with the reason
        raise _CellError(f"{name} is {v!r}, not a plain decimal number", name)
    return x


def _bool(v: str, name: str) -> bool:
    if v not in _BOOL:
        raise _CellError(f"{name} is {v!r}, expected one of 0, 1, True, False, true, false", name)
    return _BOOL[v]


def _parse(cells: tuple[str, ...]) -> ScoreRow:
    """One row from its cells in ScoreRow's field order; the types only (validate() checks the values)."""
    qid, bench, choice, head, cp, logprob, n_tokens, n_chars, n_bytes, gold, greedy = cells
    return ScoreRow(qid, bench, _int(choice, "choice"), head, cp, _float(logprob, "logprob"),
                    _int(n_tokens, "n_tokens"), _int(n_chars, "n_chars"), _int(n_bytes, "n_bytes"),
                    _bool(gold, "gold"), _bool(greedy, "greedy"))


def _decode(path: str) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:  # a file cut inside a multi-byte character, or not text at all
        raise ArtifactError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=path,
                            line=data.count(b"\n", 0, e.start) + 1) from None


def _columns(header: list[str] | None, path: str) -> Callable[[list[str]], tuple[str, ...]]:
    if not header:
        raise ArtifactError("empty file: not a likra score table (no header line)", path=path, line=1)
    missing = set(_FIELDS) - set(header)
    if missing:
        raise ArtifactError(f"not a likra score table (missing columns {sorted(missing)})", path=path, line=1)
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ArtifactError(f"columns {twice} appear more than once in the header", path=path, line=1)
    return operator.itemgetter(*(header.index(name) for name in _FIELDS))  # the cells in field order


def _read(path: str) -> tuple[list[ScoreRow], list[int]]:
    """The rows and the physical line (header = 1) each starts on; every bad cell is an ArtifactError."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    try:
        header = next(reader, None)
        cols, width = _columns(header, path), len(header or ())
        rows, lines, start = [], [], reader.line_num + 1
        for cells in reader:
            if cells:  # a blank line holds no row (pandas and DictReader skip it too)
                rows.append(_row(cells, cols, width, path, start))
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise ArtifactError(f"not valid CSV ({e})", path=path, line=reader.line_num) from None
    if not rows:
        raise ArtifactError("the score table has no rows (a header only)", path=path)
    return rows, lines


def _row(cells: list[str], cols: Callable, width: int, path: str, line: int) -> ScoreRow:
    if len(cells) != width:
        raise ArtifactError(f"{len(cells)} cells where the header has {width} (a truncated or edited line)",
                            path=path, line=line)
    ordered = cols(cells)
    try:
        return _parse(ordered)
    except _CellError as e:
        who = f"question {ordered[0]!r}: " if ordered[0] else ""
        raise ArtifactError(who + e.message, path=path, line=line, field=e.field) from None


class ScoreTable:
    """A list of ScoreRow with lookup by (head, checkpoint), and the same rows held columnar for the rules.

    Rows are added with `extend` only (not by changing `rows` in place): `columns()` is built once and
    rebuilt after an extend.
    """

    def __init__(self, rows: Iterable[ScoreRow] = ()):
        self.rows: list[ScoreRow] = list(rows)
        self._columnar: Columns | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ScoreRow]:
        return iter(self.rows)

    def extend(self, other: "ScoreTable | Iterable[ScoreRow]") -> None:
        self.rows.extend(other)
        self._columnar = None

    def columns(self) -> Columns:
        """The rows as numpy arrays, with each head's choice matrices (matrix.py); built on first use."""
        if self._columnar is None or self._columnar.n_rows != len(self.rows):  # also catches rows.append
            self._columnar = Columns(self.rows)
        return self._columnar

    @property
    def heads(self) -> list[str]:
        return sorted({r.head for r in self.rows})

    @property
    def checkpoints(self) -> list[str]:
        """Trained-head checkpoints present, in order of examples seen ('final' last)."""
        cps = {r.checkpoint for r in self.rows if r.checkpoint != BASE_CHECKPOINT}
        return sorted(cps, key=checkpoint_order)

    def select(self, head: str, checkpoint: str | None = None) -> list[ScoreRow]:
        """Rows of one head; base rows ignore `checkpoint`."""
        return [r for r in self.rows
                if r.head == head and (head == "base" or checkpoint is None or r.checkpoint == checkpoint)]

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
        """Read a saved table; a bad cell or an inconsistent table is an ArtifactError naming file and line."""
        rows, lines = _read(str(path))
        table = cls(rows)
        validate(table, source=str(path), lines=lines)
        return table
