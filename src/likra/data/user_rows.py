"""The user file format (docs/DATA_FORMAT.md): question, choices, answer, optional id, one row each,
as a Question in the ARC prompt; every error a DataError naming the field (the reader adds file:line)."""

from __future__ import annotations

import re
from typing import Any

from likra.data.questions import DataError, Question
from likra.data.readers import RoundedFloat, check_choices, check_gold, get_field, loads_json


def parse_user_row(row: dict, benchmark: str, line: int, is_csv: bool) -> Question:
    """One row of the user format (docs/DATA_FORMAT.md) as a Question in the ARC prompt."""
    question = _text(row, "question")
    choices = _user_choices(row, is_csv)
    gold = _user_answer(row.get("answer"), choices, is_csv)
    qid = row.get("id")
    if isinstance(qid, bool) or not isinstance(qid, (str, int, type(None))):
        raise DataError("wrong type: id must be a string or an integer", field="id")
    qid = _encodable(str(qid).strip(), "id") if qid is not None and str(qid).strip() else str(line)
    return Question(qid, benchmark, f"Question: {question}\nAnswer:", tuple(choices), gold, query=question)


def _text(row: dict, name: str) -> str:
    value = get_field(row, name, str).strip()
    if not value:
        raise DataError("missing field: it is empty", field=name)
    return _encodable(value, name)


def _encodable(text: str, name: str) -> str:
    """`text`, if it has no lone surrogate: JSON can escape half of a UTF-16 pair ("\\ud800"), which
    no UTF-8 text holds and which tokenizers refuse."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        half = f"\\u{ord(text[e.start]):04x}"
        raise DataError(f"not UTF-8: {half} is half of a UTF-16 surrogate pair, not a character", field=name) from None
    return text


def _user_choices(row: dict, is_csv: bool) -> list[str]:
    # Any choice<number> column, in any case, so that choice0, choice01 or Choice3 is an error below
    # (they are not choice1..choiceN), never a column silently left out of the choices.
    columns = sorted((k for k in row if re.fullmatch(r"choice\d+", k, re.IGNORECASE | re.ASCII)), key=lambda k: (int(k[6:]), k))
    if "choices" in row and columns:
        raise DataError(f"both 'choices' and {columns[0]}.. given; use one", field="choices")
    if columns and is_csv:
        return _choice_columns(row, columns)
    raw = get_field(row, "choices", (list, str) if is_csv else list)
    if isinstance(raw, str):  # CSV: a JSON-encoded list in one cell
        if not raw.strip():
            raise DataError("missing field: it is empty", field="choices")
        try:
            raw = loads_json(raw, " in the choices cell")
        except DataError as e:
            raise DataError(e.reason, field="choices") from None
        if not isinstance(raw, list):
            raise DataError("wrong type: choices must be a JSON list", field="choices")
    choices = []
    for i, c in enumerate(raw):
        if isinstance(c, bool) or not isinstance(c, (str, int)):
            raise DataError(f"wrong type: choice {i} is not a string", field="choices")
        choices.append(_encodable(str(c).strip(), "choices"))
    check_choices(choices, "choices")
    return choices


def _choice_columns(row: dict, columns: list[str]) -> list[str]:
    # Trailing empty cells let rows have fewer choices than there are columns; a gap is an error.
    cells = [row[c].strip() for c in columns]
    if columns != [f"choice{i}" for i in range(1, len(columns) + 1)]:
        raise DataError(f"choice columns must be choice1..choiceN, numbered from 1 without gaps: got {', '.join(columns)}", field=columns[0])
    while cells and not cells[-1]:
        cells.pop()
    for i, c in enumerate(cells):
        if not c:
            raise DataError(f"empty choice: choice {i} is empty", field=columns[i])
    check_choices(cells, f"choice{min(len(cells) + 1, 2)}")  # name the first missing column
    return cells


def _user_answer(value: object, choices: list[str], is_csv: bool) -> int:
    """0-based index, or the exact text of one choice (CSV cells are text: a number is taken as an
    index unless it is also a choice's text, and the two readings must then agree)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("missing field", field="answer")
    if isinstance(value, float):  # a JSON number: 2.0 is index 2, 1.5 is no index
        if not value.is_integer() or isinstance(value, RoundedFloat):
            number = value.literal if isinstance(value, RoundedFloat) else repr(value)
            raise DataError(f"wrong type: answer {number} is not a whole number (an index or a choice's text)", field="answer")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DataError("wrong type: answer must be an index or a choice's text", field="answer")
    if isinstance(value, int):
        return check_gold(value, len(choices), "answer")
    text = value.strip()
    matches = [i for i, c in enumerate(choices) if c == text]
    index = int(text) if is_csv and re.fullmatch(r"-?\d+", text) else None
    if matches and index is not None and not 0 <= index < len(choices):
        index = None  # an out-of-range number that is a choice's text is just that text
    if len(matches) > 1:
        raise DataError(f"ambiguous answer: {text!r} is the text of choices {matches}", field="answer")
    if matches and index is not None and index != matches[0]:
        raise DataError(f"ambiguous answer: {text!r} is choice {matches[0]}'s text and also an index", field="answer")
    if matches:
        return matches[0]
    if index is not None:
        return check_gold(index, len(choices), "answer")
    hint = " (write an index as a JSON number)" if text.lstrip("-").isdigit() else ""
    raise DataError(f"answer matches no choice: {text!r}{hint}", field="answer")
