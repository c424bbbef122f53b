"""One user-file row, written as JSONL or CSV, with or without a mutation (for fuzz_user_files.py)."""

from __future__ import annotations

import json
import random

from tests.data.fuzz_user_files import (
    AHEAD, Bad, DUP, EXTRA_KEYS, Good, NO_MATCH, PLACEHOLDER, Row, _intended, _pad, _random_json, _text,
)



# --- JSONL rows. ---


def _jsonl_row(rng: random.Random, row: Row, mut: str | None, ascii_: bool) -> tuple[str, Good | Bad, str | None]:
    """One JSONL line for `row` with mutation `mut`, what loading it must give, and its id token."""

    def enc(v: object) -> str:
        return json.dumps(v, ensure_ascii=ascii_)

    n = len(row.choices)
    item_sep = rng.choice([", ", ",", " , "])
    kv_sep = rng.choice([": ", ":", " : "])
    choices = [_pad(rng, c) for c in row.choices]
    if row.answer == "index":
        answer = str(row.gold)
    elif row.answer == "float":
        answer = rng.choice(["{}.0", "{}.00", "{}e0", "{}.0E+0", "{}E0"]).format(row.gold)
    else:
        answer = enc(_pad(rng, row.choices[row.gold]))
    pairs = [["question", enc(_pad(rng, row.question))], ["choices", None], ["answer", answer]]
    token = None
    if row.qid is not None:
        pairs.append(["id", str(row.qid) if isinstance(row.qid, int)
                      else enc(_pad(rng, row.qid) if row.qid.strip() else row.qid)])
    for key in rng.sample(EXTRA_KEYS, rng.choice([0, 0, 1, 2])):
        pairs.append([key, enc(_random_json(rng))])
    rng.shuffle(pairs)
    outcome: Good | Bad = _intended(row)
    line_fn = None

    def bad(category: str, fld: str | None) -> Bad:
        return Bad(mut, category, fld)

    def set_(key: str, raw: str | None) -> None:
        for p in pairs:
            if p[0] == key:
                p[1] = raw
                return
        pairs.append([key, raw])

    def drop(key: str) -> None:
        pairs[:] = [p for p in pairs if p[0] != key]

    if mut == "out_of_range":
        set_("answer", str(n + rng.randrange(4)))
        outcome = bad("gold index out of range", "answer")
    elif mut == "negative":
        set_("answer", str(-rng.randint(1, n + 1)))
        outcome = bad("gold index out of range", "answer")
    elif mut == "float":
        set_("answer", rng.choice(["1.5", "0.5", "2.25", "-0.5", "1e-1", "1.0000000000000001", "1e400", "-1e400"]))
        outcome = bad("wrong type", "answer")
    elif mut == "bool":
        set_("answer", rng.choice(["true", "false"]))
        outcome = bad("wrong type", "answer")
    elif mut == "no_match":
        set_("answer", enc(rng.choice([t for t in NO_MATCH if t not in row.choices])))
        outcome = bad("answer matches no choice", "answer")
    elif mut in ("missing_question", "missing_choices", "missing_answer"):
        key = mut.split("_")[1]
        if rng.random() < 0.5:
            drop(key)
        else:
            set_(key, rng.choice(["null", '""', '"   "']) if key == "answer" else "null")
        outcome = bad("missing field", key)
    elif mut == "empty_question":
        set_("question", rng.choice(['""', '" "', '"\\t\\n"']))
        outcome = bad("missing field", "question")
    elif mut == "empty_choice":
        choices[rng.randrange(n)] = rng.choice(["", "  ", "\t"])
        outcome = bad("empty choice", "choices")
    elif mut == "few_choices":
        choices = choices[: rng.randint(0, 1)]
        set_("answer", "0")
        outcome = bad("fewer than 2 choices", "choices")
    elif mut == "choices_not_list":
        set_("choices", rng.choice([enc(", ".join(row.choices)), '{"a": "x", "b": "y"}', "3", "true"]))
        outcome = bad("wrong type", "choices")
    elif mut == "choice_not_string":
        not_string = rng.choice(["null", "1.5", "true", "[]", "{}", '["x"]'])
        i = rng.randrange(n)
        set_("choices", "[" + item_sep.join(not_string if k == i else enc(c) for k, c in enumerate(choices)) + "]")
        outcome = bad("wrong type", "choices")
    elif mut == "non_utf8":
        set_("question", json.dumps(PLACEHOLDER + _pad(rng, row.question), ensure_ascii=False))
        outcome = bad("not UTF-8", None)
    elif mut == "truncated":
        line_fn = lambda line: line[: rng.randrange(1, line.rindex("}"))]  # noqa: E731
        outcome = bad("invalid JSON", None)
    elif mut == "not_object":
        line_fn = lambda line: rng.choice([enc(row.choices), enc(row.question), "42", "null", "[]"])  # noqa: E731
        outcome = bad("not a JSON object", None)
    elif mut == "nan":
        where = rng.choice(["answer", "choices", "extra", "id"])
        constant = rng.choice(["NaN", "Infinity", "-Infinity"])
        if where == "choices":
            set_("choices", "[" + item_sep.join([constant] + [enc(c) for c in choices]) + "]")
        else:
            set_({"extra": "score"}.get(where, where), constant)
        outcome = bad("invalid JSON", None)
    elif mut == "dup_key":
        key = rng.choice([p[0] for p in pairs])
        pairs.append([key, rng.choice([enc("other"), "0", "1", "null",
                                       next(p[1] for p in pairs if p[0] == key) or "0"])])
        outcome = bad("duplicate field", key)
    elif mut == "ambiguous_text":
        j = rng.choice([k for k in range(n) if k != row.gold])
        choices[j] = _pad(rng, row.choices[row.gold])
        set_("answer", enc(_pad(rng, row.choices[row.gold])))
        outcome = bad("ambiguous answer", "answer")
    elif mut == "bad_id_type":
        set_("id", rng.choice(["true", "false", "1.5", "[1]", '{"id": 1}', "2.0"]))
        outcome = bad("wrong type", "id")
    elif mut == "dup_id":
        set_("id", enc(_pad(rng, DUP)))
        token = DUP
    elif mut == "lone_surrogate":
        where = rng.choice(["question", "choices", "id"])
        half = rng.choice(["\\ud800", "\\uDFFF", "\\udc00", "\\ud83d", "\\ud83dx"])
        if where == "choices":
            i = rng.randrange(n)
            set_("choices", "[" + item_sep.join('"' + half + enc(c)[1:] if k == i else enc(c)
                                                for k, c in enumerate(choices)) + "]")
        else:
            set_(where, '"' + half + enc(row.question if where == "question" else "q-x")[1:])
        outcome = bad("not UTF-8", where)
    elif mut == "huge_int":
        set_(rng.choice(["answer", "score"]), "1" * rng.choice([4301, 5000, 20000]))
        outcome = bad("invalid JSON", None)
    elif mut == "deep":
        depth = rng.choice([5000, 100000])
        set_(rng.choice(["meta", "choices"]), "[" * depth + "]" * depth)
        outcome = bad("invalid JSON", None)
    elif mut is not None:
        raise AssertionError(f"unknown mutation {mut}")
    if row.qid is not None and isinstance(outcome, Good) and rng.random() < 0.05:
        set_("id", enc(AHEAD))  # an explicit id equal to a later row's line number
        token = AHEAD
    for p in pairs:
        if p[0] == "choices" and p[1] is None:
            p[1] = "[" + item_sep.join(enc(c) for c in choices) + "]"
    line = "{" + item_sep.join(f"{enc(k)}{kv_sep}{v}" for k, v in pairs) + "}"
    if rng.random() < 0.1:
        line = rng.choice([" ", "\t"]) + line + rng.choice([" ", "\t", ""])
    if line_fn is not None:
        line = line_fn(line)
    return line, outcome, token


# --- CSV rows. ---


def _csv_row(rng: random.Random, row: Row, mut: str | None, layout: str, extra_columns: list[str]):
    """Cells of one CSV row (column -> text; the choice columns' cells as a list), what to do to the
    row once written (None, a function of its text, or 'add'/'drop' a cell), what loading it must
    give, and its id token."""
    n = len(row.choices)
    choices = [_pad(rng, c) for c in row.choices]
    answer = _pad(rng, str(row.gold) if row.answer == "index" else row.choices[row.gold])
    cells = {"question": _pad(rng, row.question), "answer": answer}
    cells["id"] = "" if row.qid is None else (_pad(rng, str(row.qid)) if str(row.qid).strip() else str(row.qid))
    for c in extra_columns:
        cells[c] = rng.choice(["", _text(rng, 1, 5)])
    outcome: Good | Bad = _intended(row)
    token, post, choices_cell = None, None, None

    def bad(category: str, fld: str | None) -> Bad:
        return Bad(mut, category, fld)

    def dump(values: list) -> str:
        return json.dumps(values, ensure_ascii=rng.random() < 0.5)

    if mut == "out_of_range":
        cells["answer"] = _pad(rng, str(n + rng.randrange(4)))
        outcome = bad("gold index out of range", "answer")
    elif mut == "negative":
        cells["answer"] = _pad(rng, str(-rng.randint(1, n + 1)))
        outcome = bad("gold index out of range", "answer")
    elif mut == "float":
        cells["answer"] = rng.choice(["1.5", "0.5", "2.25"])
        outcome = bad("answer matches no choice", "answer")
    elif mut == "bool":
        cells["answer"] = rng.choice(["true", "TRUE", "True", "false"])
        outcome = bad("answer matches no choice", "answer")
    elif mut == "no_match":
        cells["answer"] = rng.choice([t for t in NO_MATCH if t not in row.choices])
        outcome = bad("answer matches no choice", "answer")
    elif mut in ("missing_question", "empty_question"):
        cells["question"] = "" if mut == "missing_question" else rng.choice([" ", "  \t", "\u3000"])
        outcome = bad("missing field", "question")
    elif mut == "missing_answer":
        cells["answer"] = rng.choice(["", " ", "\t"])
        outcome = bad("missing field", "answer")
    elif mut in ("missing_choices", "few_choices"):
        choices = [] if mut == "missing_choices" else choices[: rng.randint(0, 1)]
        cells["answer"] = "0"
        if layout == "csv_columns":
            outcome = bad("fewer than 2 choices", f"choice{len(choices) + 1}")
        elif mut == "missing_choices":
            choices_cell = rng.choice(["", " "])
            outcome = bad("missing field", "choices")
        else:
            outcome = bad("fewer than 2 choices", "choices")
    elif mut == "empty_choice":
        i = rng.randrange(n - 1)  # not the last: trailing empty cells just mean fewer choices
        choices[i] = rng.choice(["", " ", "\t"])
        outcome = bad("empty choice", f"choice{i + 1}" if layout == "csv_columns" else "choices")
    elif mut == "non_utf8":
        cells["question"] = PLACEHOLDER + cells["question"]
        outcome = bad("not UTF-8", None)
    elif mut == "bad_quote":
        for k in cells:
            cells[k] = cells[k].replace("\n", " ")  # the row must not span lines (csv resumes at the next line)
        choices = [c.replace("\n", " ") for c in choices]
        column = rng.choice(["question", "answer"])
        cells[column] = "@@BADQ@@"
        broken = rng.choice(['"bad"quote', '"bad" ', '"a""b"c'])
        post = lambda text: text.replace('"@@BADQ@@"', broken).replace("@@BADQ@@", broken)  # noqa: E731
        outcome = bad("invalid CSV", None)
    elif mut == "wrong_cells":
        post = rng.choice(["add", "drop"])  # handled when the row is written
        outcome = bad("wrong number of cells", None)
    elif mut == "ambiguous_text":
        j = rng.choice([k for k in range(n) if k != row.gold])
        choices[j] = _pad(rng, row.choices[row.gold])
        cells["answer"] = _pad(rng, row.choices[row.gold])
        outcome = bad("ambiguous answer", "answer")
    elif mut == "ambiguous_number":  # choice j is "i": answer "i" is choice j's text and index i
        i, j = rng.sample(range(n), 2)
        choices = [str(i) if k == j else ("x" + c if c.strip() == str(i) else c) for k, c in enumerate(choices)]
        cells["answer"] = _pad(rng, str(i))
        outcome = bad("ambiguous answer", "answer")
    elif mut == "dup_id":
        cells["id"] = _pad(rng, DUP)
        token = DUP
    elif mut == "choices_not_list":
        choices_cell, category = rng.choice([
            (json.dumps(", ".join(row.choices)), "wrong type"), ('{"a": "x"}', "wrong type"), ("3", "wrong type"),
            ("null", "wrong type"), ("red, green", "invalid JSON"), ("[red, green]", "invalid JSON"),
        ])
        outcome = bad(category, "choices")
    elif mut == "choice_not_string":
        i = rng.randrange(n)
        choices[i] = rng.choice([None, 1.5, True, [], {}])
        outcome = bad("wrong type", "choices")
    elif mut == "truncated":
        full = dump(choices)
        choices_cell = full[: rng.randrange(1, len(full) - 1)]
        outcome = bad("invalid JSON", "choices")
    elif mut == "nan":
        choices_cell = "[" + rng.choice(["NaN", "Infinity", "-Infinity"]) + ", " + dump(choices)[1:]
        outcome = bad("invalid JSON", "choices")
    elif mut == "lone_surrogate":
        choices_cell = '["' + rng.choice(["\\ud800", "\\uDFFF", "\\ud83dx"]) + dump(choices)[2:]
        outcome = bad("not UTF-8", "choices")
    elif mut == "huge_int":
        choices_cell = "[" + "1" * rng.choice([4301, 5000]) + ", " + dump(choices)[1:]
        outcome = bad("invalid JSON", "choices")
    elif mut == "deep":
        choices_cell = "[" * 50000 + "]" * 50000  # under csv's field size limit (131072)
        outcome = bad("invalid JSON", "choices")
    elif mut is not None:
        raise AssertionError(f"unknown mutation {mut}")
    if row.qid is not None and isinstance(outcome, Good) and rng.random() < 0.05:
        cells["id"] = AHEAD
        token = AHEAD
    if layout == "csv_json" and choices_cell is None:
        choices_cell = dump(choices)
        if rng.random() < 0.1:
            choices_cell = rng.choice([" ", "\t"]) + choices_cell + rng.choice([" ", ""])  # JSON allows spaces
    if layout == "csv_json":
        cells["choices"] = choices_cell
        choices = None
    return cells, choices, post, outcome, token
