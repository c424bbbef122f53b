"""The user file format (docs/DATA_FORMAT.md): question, choices, answer, optional id and negatives,
one row each, as a Question in the ARC prompt; every error a DataError naming the field (the reader
adds file:line)."""

from __future__ import annotations

import re

from likra.data.questions import DataError, Question, normalise_answer
from likra.data.readers import RoundedFloat, check_choices, check_gold, get_field, loads_json

USER_TEMPLATE = "Question: {question}\nAnswer:"
"""The prompt of every user-file question (lm-eval's ARC prompt); `likra mine` samples after it too."""


def parse_user_row(row: dict, benchmark: str, line: int, is_csv: bool, free_form: bool = False) -> Question:
    """One row of the user format (docs/DATA_FORMAT.md) as a Question in the ARC prompt.

    A row without choices is a free-form question (its answer text is its one choice) when it has
    `negatives`, or always with `free_form` (what `likra mine` reads, before it has negatives)."""
    question = _text(row, "question")
    negatives = _user_negatives(row, is_csv)
    if _no_choices(row, is_csv) and (negatives or free_form):
        choices, gold = [_answer_text(row.get("answer"))], 0
    else:
        choices = _user_choices(row, is_csv)
        gold = _user_answer(row.get("answer"), choices, is_csv)
    _check_negatives(negatives, choices[gold])
    qid = row.get("id")
    if isinstance(qid, bool) or not isinstance(qid, (str, int, type(None))):
        raise DataError("wrong type: id must be a string or an integer", field="id")
    qid = _encodable(str(qid).strip(), "id") if qid is not None and str(qid).strip() else str(line)
    return Question(qid, benchmark, USER_TEMPLATE.format(question=question), tuple(choices), gold, query=question,
                    negatives=negatives)


def _no_choices(row: dict, is_csv: bool) -> bool:
    """Neither a `choices` value nor a filled choice<N> cell (a CSV cell is '' when left empty)."""
    def empty(v: object) -> bool:
        return v is None or (is_csv and isinstance(v, str) and not v.strip())

    columns = [k for k in row if re.fullmatch(r"choice\d+", k, re.IGNORECASE | re.ASCII)]
    return empty(row.get("choices")) and all(empty(row[k]) for k in columns)


def _answer_text(value: object) -> str:
    # Without choices there is nothing to index: the answer is its own text.
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("missing field", field="answer")
    if not isinstance(value, str):
        raise DataError("wrong type: without choices, answer must be the answer's text", field="answer")
    return _encodable(value.strip(), "answer")


def _user_negatives(row: dict, is_csv: bool) -> tuple[str, ...]:
    return string_list(row, "negatives", is_csv, "negative")


def string_list(row: dict, name: str, is_csv: bool, item: str) -> tuple[str, ...]:
    """An optional field holding a JSON list of non-empty, distinct strings (in CSV, a JSON list in
    one cell; an empty cell is no list): `negatives` here, `aliases` in `likra mine`'s input. `item`
    names one element in errors."""
    raw = row.get(name)
    if raw is None or (is_csv and isinstance(raw, str) and not raw.strip()):
        return ()
    if is_csv and isinstance(raw, str):
        try:
            raw = loads_json(raw, f" in the {name} cell")
        except DataError as e:
            raise DataError(e.reason, field=name) from None
    if not isinstance(raw, list):
        raise DataError(f"wrong type: {name} must be a list of strings", field=name)
    out: list[str] = []
    for i, n in enumerate(raw):
        if not isinstance(n, str):
            raise DataError(f"wrong type: {item} {i} is not a string", field=name)
        if not n.strip():
            raise DataError(f"empty {item}: {item} {i} is empty", field=name)
        if n.strip() in out:
            raise DataError(f"duplicate {item}: {item} {i} ({n.strip()!r}) is given twice", field=name)
        out.append(_encodable(n.strip(), name))
    return tuple(out)


def _check_negatives(negatives: tuple[str, ...], gold: str) -> None:
    # A negative that is the right answer would teach the negative head the right answer; compared
    # as answers (normalise_answer), so 'The Sun.' is the gold 'sun'.
    key = normalise_answer(gold)
    for i, n in enumerate(negatives):
        if normalise_answer(n) == key:
            raise DataError(f"negative equals the gold answer: negative {i} ({n!r}) is {gold!r}", field="negatives")


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
    columns = sorted((k for k in row if re.fullmatch(r"choice\d+", k, re.IGNORECASE | re.ASCII)),
                     key=lambda k: (int(k[6:]), k))
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
        raise DataError(f"choice columns must be choice1..choiceN, numbered from 1 without gaps: "
                        f"got {', '.join(columns)}", field=columns[0])
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
            raise DataError(f"wrong type: answer {number} is not a whole number (an index or a choice's text)",
                            field="answer")
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
