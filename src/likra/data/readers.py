"""Row readers for JSONL, CSV and label (.lst) files, with every error located by file:line:field.

Readers return `(rows, skipped)`: `rows` is a list of `(line, dict)` with 1-based line numbers, and
`skipped` a `SkipReport`. Strict mode (the default) raises `DataError` on the first bad row; lenient
mode skips the row and records why, so nothing is ever dropped silently.

Also here: `get_field`, typed access to (dotted) row fields, and the checks every parser shares
(`check_choices`, `check_gold`), so that parsers raise located errors instead of bare
`KeyError`/`TypeError`. The user file format (`parse_user_row`) is in user_rows.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from likra.data.questions import DataError

Rows = list[tuple[int, dict]]

MAX_EXAMPLES = 5
_MISSING = object()


@dataclass
class SkipReport:
    """What lenient reading left out, and why."""

    count: int = 0
    """Number of rows skipped."""
    reasons: Counter = field(default_factory=Counter)
    """Reason (error category plus field) -> number of rows skipped for it."""
    examples: list[str] = field(default_factory=list)
    """The first few skipped rows, as 'file:line: message'."""

    def add(self, err: DataError) -> None:
        """Record one skipped row."""
        self.count += 1
        self.reasons[reason_key(err)] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(str(err))

    def merge(self, other: "SkipReport") -> None:
        """Fold another report (e.g. of a second file) into this one."""
        self.count += other.count
        self.reasons.update(other.reasons)
        self.examples.extend(other.examples[: max(0, MAX_EXAMPLES - len(self.examples))])

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        if not self.count:
            return "no rows skipped"
        reasons = ", ".join(f"{r}: {n}" for r, n in self.reasons.most_common())
        lines = [f"skipped {self.count} row(s) ({reasons})"]
        lines += [f"  e.g. {e}" for e in self.examples]
        return "\n".join(lines)


def reason_key(err: DataError) -> str:
    """A short category for a DataError: its message up to the first ':' plus the field."""
    category = err.reason.split(":")[0].strip()
    return f"{category} [{err.field}]" if err.field else category


def locate(err: DataError, path: str | os.PathLike, line: int) -> DataError:
    """The same error with file and line filled in (parsers raise it without them)."""
    return DataError(err.reason, path=str(path), line=line if err.line is None else err.line, field=err.field)


def handle(err: DataError, lenient: bool, skipped: SkipReport) -> None:
    """Strict: raise. Lenient: record the row in `skipped` and carry on."""
    if not lenient:
        raise err
    skipped.add(err)


def _read_bytes(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a file", path=str(path)) from None


def _decode_line(raw: bytes, path: str, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}", path=path, line=line) from None


def _split_lines(data: bytes) -> list[bytes]:
    # Split on b"\n" only (never on other Unicode line breaks), so line numbers match `wc -l`/editors.
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark, as some editors write
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def read_jsonl(path: str | os.PathLike, lenient: bool = False) -> tuple[Rows, SkipReport]:
    """Read one JSON object per line. Blank lines are not rows and are ignored."""
    path_s, rows, skipped = str(path), [], SkipReport()
    for line, raw in enumerate(_split_lines(_read_bytes(path)), start=1):
        try:
            text = _decode_line(raw, path_s, line)
            if not text.strip():
                continue
            rows.append((line, _parse_json_object(text, path_s, line)))
        except DataError as e:
            handle(e, lenient, skipped)
    return rows, skipped


def _parse_json_object(text: str, path: str, line: int) -> dict:
    try:
        obj = loads_json(text)
    except DataError as e:
        raise DataError(e.reason, path=path, line=line, field=e.field) from None
    if not isinstance(obj, dict):
        raise DataError(f"not a JSON object: row is a JSON {_json_type(obj)}", path=path, line=line)
    return obj


class RoundedFloat(float):
    """A JSON number that float() rounds to a whole number it is not, or overflows to infinity
    (1.0000000000000001, 1e400): not an index, whatever float() makes of it. Keeps its literal."""

    literal: str = ""


def _json_float(literal: str) -> float:
    value = float(literal)
    if (value.is_integer() or math.isinf(value)) and Decimal(literal) != value:
        rounded = RoundedFloat(value)
        rounded.literal = literal
        return rounded
    return value


def _reject_constant(name: str) -> None:
    raise DataError(f"invalid JSON: {name} is not a JSON value (write null, or a number)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DataError(f"duplicate field: {key!r} is given twice in one object", field=key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(parse_float=_json_float, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def loads_json(text: str, where: str = "") -> Any:
    """json.loads, stricter where Python's json is lax and errors are DataErrors (not located):
    NaN/Infinity (not JSON) and a key given twice in one object (Python keeps the last value
    silently) are errors, and so are numbers too long for int() and nesting too deep to parse.
    Floats that round to a whole number they are not come back as `RoundedFloat`. `where` is
    added to the JSON syntax messages (e.g. ' in the choices cell')."""
    try:
        return _DECODER.decode(text)
    except DataError:
        raise
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}{where} at column {e.colno}") from None
    except RecursionError:
        raise DataError(f"invalid JSON: nested too deeply{where}") from None
    except ValueError:  # int() refuses numbers of more than sys.get_int_max_str_digits() digits
        raise DataError(f"invalid JSON: a number is too long to read{where}") from None


def _json_type(obj: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
             type(None): "null"}
    return names.get(type(obj), type(obj).__name__)


def read_csv(path: str | os.PathLike, lenient: bool = False) -> tuple[Rows, SkipReport]:
    """Read a CSV file with a header row; each row becomes {column: text}.

    A row's line number is the line it starts on (quoted cells may span lines)."""
    path_s, rows, skipped = str(path), [], SkipReport()
    text = _read_bytes(path).decode("utf-8", errors="surrogateescape")
    # surrogateescape keeps undecodable bytes as lone surrogates, so csv can still split records and
    # we can report the bad row by its own line instead of failing the whole file.
    text = text.removeprefix("\ufeff")
    # Windows line endings, also inside quoted cells: a line break in a cell is read as "\n" either way
    # (the line count is the same, as csv counts "\r\n" as one line).
    text = text.replace("\r\n", "\n")
    # skipinitialspace: in `q1, "Paris, France"` the second cell is `Paris, France`, not ` "Paris` and
    # ` France"` (cells are stripped anyway; only quotes after spaces read differently).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    header: list[str] | None = None
    line = 1
    while True:
        start = line
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            line = reader.line_num + 1
            err = DataError(f"invalid CSV: {e}", path=path_s, line=start)
            if header is None:
                raise err from None
            handle(err, lenient, skipped)
            continue
        line = reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        try:
            _check_csv_encoding(record, path_s, start)
            if header is None:
                header = _check_header(record, path_s, start)
                continue
            rows.append((start, _csv_row(record, header, path_s, start)))
        except DataError as e:
            if header is None:
                raise  # a bad header makes every row unreadable: never lenient about it
            handle(e, lenient, skipped)
    if header is None:
        raise DataError("empty CSV file: no header row", path=path_s)
    return rows, skipped


def _check_csv_encoding(record: list[str], path: str, line: int) -> None:
    for cell in record:
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError as e:
            byte = ord(cell[e.start]) - 0xDC00
            raise DataError(f"not UTF-8: byte 0x{byte:02x}", path=path, line=line) from None


def _check_header(record: list[str], path: str, line: int) -> list[str]:
    header = [h.strip() for h in record]
    if any(not h for h in header):
        raise DataError("empty column name in CSV header", path=path, line=line)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"duplicate column in CSV header: {', '.join(dupes)}", path=path, line=line, field=dupes[0])
    return header


def _csv_row(record: list[str], header: list[str], path: str, line: int) -> dict:
    if len(record) != len(header):
        raise DataError(f"wrong number of cells: {len(record)} cells, header has {len(header)}", path=path, line=line)
    return dict(zip(header, record))


def count_lines(path: str | os.PathLike) -> int:
    """Number of lines in a file, counted the way the readers number them."""
    return len(_split_lines(_read_bytes(path)))


def read_labels(path: str | os.PathLike) -> list[str]:
    """A labels file (.lst): one label per line, as text, in row order."""
    path_s = str(path)
    return [_decode_line(raw, path_s, n).strip() for n, raw in enumerate(_split_lines(_read_bytes(path)), start=1)]


def get_field(row: dict, name: str, kind: type | tuple[type, ...] = str, default: Any = _MISSING) -> Any:
    """row[name] checked to be of `kind`; `name` may be dotted ('question.stem') to reach into
    nested objects. Missing (or null) without a default, or the wrong type, is a DataError."""
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            if default is not _MISSING:
                return default
            raise DataError("missing field", field=name)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        wanted = " or ".join(_json_type(k()) if k in (list, dict, str, int, float) else k.__name__ for k in kinds)
        raise DataError(f"wrong type: expected {wanted}, got {_json_type(value)}", field=name)
    return value


def check_choices(choices: list[str], name: str) -> None:
    """At least two choices, none empty; `name` is the field named in errors."""
    if len(choices) < 2:
        raise DataError(f"fewer than 2 choices: got {len(choices)}", field=name)
    for i, c in enumerate(choices):
        if not c.strip():
            raise DataError(f"empty choice: choice {i} is empty", field=name)


def check_gold(gold: int, n_choices: int, name: str) -> int:
    """`gold` if it indexes one of `n_choices` choices; `name` is the field named in errors."""
    if not 0 <= gold < n_choices:
        raise DataError(f"gold index out of range: {gold} for {n_choices} choices", field=name)
    return gold
