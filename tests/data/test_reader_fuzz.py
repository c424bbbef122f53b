"""Fuzz test of the user-file reader (`load_user_file`, docs/DATA_FORMAT.md).

A seeded generator (random.Random, fixed seeds: deterministic, no hypothesis) makes random valid
question sets (unicode, quotes, commas, backslashes, line breaks inside JSON strings and quoted CSV
cells, surrounding spaces, 2-6 choices, answer by index or by text, ids present, absent or empty)
and writes each as JSONL and in both CSV layouts (choice1..N columns, one JSON `choices` column).
It then mutates rows, one mutation per row, whose outcome is known by construction:

- BAD mutations must stop a strict load and be skipped (and counted) by a lenient one;
- BENIGN variants (extra fields, blank lines, CRLF, a BOM, spaces, answer as text, `1.0` as an
  index, ids left out or empty, numbers as choices) must load exactly the intended question.

Property, for every generated file:
- strict: either a DataError naming the file, the 1-based line of the first bad row and its field
  (never another exception type), or exactly the intended questions (id, context, choices, gold);
- lenient: exactly the intended good questions, and `skipped` counts exactly the bad rows, each
  under the reason the doc's error table gives it.

Below the fuzz: small regression tests for the bugs it found, one input each.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from likra.data.benchmarks import load_user_file
from likra.data.questions import DataError, Question

FORMATS = ("jsonl", "csv_columns", "csv_json")
SEEDS = range(100)
BAD_ROW_P = 0.3  # chance that a row of a mutated file is bad

# Words of the random texts: unicode (accents, CJK, emoji incl. astral and ZWJ-free modifiers, RTL,
# combining marks), quotes, commas, backslashes, brackets, JSON-looking and number-looking words.
WORDS = [
    "gas", "plants", "take", "in", "What", "is", "the", "answer?", "Paris", "naïve", "café", "Straße",
    "日本語", "中文字", "😀", "👍🏽", "🇫🇷", "עברית", "العربية", "Ωμέγα", "x²", "e\u0301", "½", "it's", 'say "hi"',
    '""', "a,b", ",", "semi;colon", "back\\slash", "\\n", "[1, 2]", "{x}", "#1", "54", "1999", "-12", "3.5",
    "null", "N/A", "NaN", "\u00a0nbsp\u00a0", "zero\u200bwidth", "'", '"', "\\", "=SUM(A1)", "</s>", "O'Brien",
]
SEPS = [" ", " ", " ", " ", "  ", ", ", "; ", "\n", "\t", " - ", ","]
PADS = [" ", "  ", "\t", " \t ", "\u3000", "\u00a0"]  # all removed by str.strip, as documented
NUMERIC = ["54", "56", "64", "48", "1999", "-12", "100", "10", "-10", "2024", "42"]  # never an index (n <= 6)
NO_MATCH = ["none of these", "maybe", "Paris?", "¯\\_(ツ)_/¯", "1.5", "true", "a,b,c"]
RESERVED = {"1.5", "0.5", "2.25", "true", "false", "True", "TRUE"}  # answer texts that BAD mutations write
EXTRA_KEYS = ["source", "notes", "difficulty", "tags", "meta", "Question", "ANSWER", "choice", "choices_count", "_id"]
EXTRA_COLUMNS = ["source", "notes", "explanation", "difficulty", "Choice", "choices_note"]
ID_PREFIXES = ["q", "Q-", "photo-", "ид-", "x.", "mult_"]
PLACEHOLDER = "\ue000"  # replaced by non-UTF-8 bytes once the file is encoded
BAD_BYTES = [b"\xff", b"\xe9", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf8"]
DUP, AHEAD = "@@DUP@@", "@@AHEAD@@"  # id tokens, resolved once line numbers are known

# Mutations that make a row bad. Each is (category, field) by construction; see _jsonl_row/_csv_row.
BAD_JSONL = [
    "out_of_range", "negative", "float", "bool", "no_match", "missing_question", "empty_question",
    "missing_choices", "missing_answer", "empty_choice", "few_choices", "choices_not_list", "choice_not_string",
    "non_utf8", "truncated", "not_object", "nan", "dup_key", "ambiguous_text", "bad_id_type", "dup_id",
    "lone_surrogate", "huge_int", "deep",
]
BAD_CSV = [
    "out_of_range", "negative", "float", "bool", "no_match", "missing_question", "empty_question",
    "missing_choices", "missing_answer", "empty_choice", "few_choices", "non_utf8", "bad_quote", "wrong_cells",
    "ambiguous_text", "ambiguous_number", "dup_id",
]
BAD_CSV_JSON_ONLY = ["choices_not_list", "choice_not_string", "truncated", "nan", "lone_surrogate", "huge_int", "deep"]


def bad_mutations(fmt: str) -> list[str]:
    if fmt == "jsonl":
        return BAD_JSONL
    return BAD_CSV + (BAD_CSV_JSON_ONLY if fmt == "csv_json" else [])


@dataclass
class Row:
    """One intended question, before it is written."""

    question: str
    choices: list[str]
    gold: int
    answer: str  # "index", "text" or (JSONL) "float": an integral JSON number such as 2.0
    qid: object  # None: absent; "" or "  ": empty (the line number is used); str or int: explicit


@dataclass
class Good:
    question: str
    choices: tuple[str, ...]
    gold: int
    qid: str | None  # the id as loaded; None: the line number


@dataclass
class Bad:
    mutation: str
    category: str  # what the error message starts with (docs/DATA_FORMAT.md, "Errors")
    field: str | None


@dataclass
class Case:
    """A generated file and what loading it must give."""

    name: str
    fmt: str
    data: bytes
    good: list[Question] = field(default_factory=list)
    bad: list[tuple[int, Bad]] = field(default_factory=list)  # (line, why), in file order
    mutations: list[str] = field(default_factory=list)
    benign: list[str] = field(default_factory=list)


# --- Random texts and rows. ---


def _text(rng: random.Random, lo: int, hi: int) -> str:
    while True:
        words = rng.choices(WORDS, k=rng.randint(lo, hi))
        t = "".join(w + rng.choice(SEPS) for w in words).strip()
        if t and t not in RESERVED and not _small_int(t):
            return t


def _small_int(t: str) -> bool:
    """A text that the CSV answer rule could read as an index of up to 10 choices."""
    body = t[1:] if t.startswith("-") else t
    return body.isascii() and body.isdigit() and -10 < int(t) < 10


def _distinct(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        t = _text(rng, 1, 4)
        if t not in out:
            out.append(t)
    return out


def _pad(rng: random.Random, s: str, p: float = 0.3) -> str:
    return rng.choice(PADS) + s + rng.choice(PADS) if rng.random() < p else s


def _make_row(rng: random.Random, fmt: str, next_id: list[int], benign: list[str]) -> Row:
    n = rng.randint(2, 6)
    kind = rng.random()
    if kind < 0.1:
        choices = rng.sample(NUMERIC, n)  # e.g. 54, 56, 64, 48: a text answer "56" is choice 1
        benign.append("numeric_choices")
    else:
        choices = _distinct(rng, n)
        if kind < 0.2:  # choice i is "i": as CSV text and as index, the answer agrees
            i = rng.randrange(n)
            choices[i] = str(i)
            benign.append("agreeing_digit_choice")
        elif kind < 0.3 and fmt == "jsonl":  # choice j is "i": in JSONL a string answer is always text
            i, j = rng.sample(range(n), 2)
            choices[j] = str(i)
            benign.append("jsonl_digit_text_answer")
    gold = rng.randrange(n)
    answer = rng.choice(["index", "text"])
    if fmt == "jsonl" and rng.random() < 0.1:
        answer = "float"
        benign.append("integral_float_answer")
    r = rng.random()
    if r < 0.3:
        qid = None
    elif r < 0.4:
        qid = rng.choice(["", "  ", "\t"])
        benign.append("empty_id")
    elif r < 0.5 and fmt == "jsonl":
        next_id[0] += 1
        qid = 1000 + next_id[0]
    else:
        next_id[0] += 1
        qid = rng.choice(ID_PREFIXES) + str(next_id[0])
    if answer == "text":
        benign.append("answer_as_text")
    return Row(_text(rng, 1, 12), choices, gold, answer, qid)


def _intended(row: Row) -> Good:
    qid = row.qid if isinstance(row.qid, int) else (row.qid.strip() if row.qid else "")
    return Good(row.question, tuple(row.choices), row.gold, str(qid) if qid != "" else None)


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(7 if depth < 2 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -3, 12345678901234567890, 2.5, -1e-9, 1e300])
    if kind in (3, 4):
        return _text(rng, 1, 3)
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = rng.sample(["a", "b", "answer", "id", "k"], rng.randint(0, 3))
    return {k: _random_json(rng, depth + 1) for k in keys}


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
        pairs.append(["id", str(row.qid) if isinstance(row.qid, int) else enc(_pad(rng, row.qid) if row.qid.strip() else row.qid)])
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
        pairs.append([key, rng.choice([enc("other"), "0", "1", "null", next(p[1] for p in pairs if p[0] == key) or "0"])])
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
            set_("choices", "[" + item_sep.join('"' + half + enc(c)[1:] if k == i else enc(c) for k, c in enumerate(choices)) + "]")
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


# --- Whole files. ---


def generate(seed: int, fmt: str, mutated: bool) -> Case:
    """The file for (seed, fmt, mutated) and what loading it must give."""
    rng = random.Random(f"{seed}/{fmt}/{mutated}")
    base = random.Random(seed)  # the same question set for each format
    benign: list[str] = []
    next_id = [0]
    n_rows = base.randint(1, 14)
    rows = [_make_row(base, fmt, next_id, benign) for _ in range(n_rows)]
    muts: list[str | None] = []
    has_id = any(r.qid is not None for r in rows) or rng.random() < 0.3
    for _ in rows:
        mut = None
        if mutated and rng.random() < BAD_ROW_P:
            mut = rng.choice([m for m in bad_mutations(fmt) if m != "dup_id" or has_id])
        muts.append(mut)

    if fmt == "jsonl":
        ascii_ = rng.random() < 0.5
        header_chunks: list[str] = []
        chunks_per_row = [_jsonl_row(rng, r, m, ascii_) for r, m in zip(rows, muts)]
    else:
        extra = rng.sample(EXTRA_COLUMNS, rng.choice([0, 0, 1, 2]))
        made = [_csv_row(rng, r, m, fmt, extra) for r, m in zip(rows, muts)]
        columns = ["question", "answer"] + extra + (["id"] if has_id else [])
        if fmt == "csv_columns":
            width = max(len(c) for _, c, _, _, _ in made) + rng.choice([0, 0, 1])
            choice_columns = [f"choice{k}" for k in range(1, max(width, 2) + 1)]
            columns += choice_columns
        else:
            choice_columns = []
            columns.append("choices")
        rng.shuffle(columns)
        quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
        spaced = rng.random() < 0.15  # hand-written style: `q1, "Paris, France", "London"`
        if spaced:
            benign.append("space_before_quoted_cell")

        def write(values: list) -> str:
            if spaced:
                return ",".join(rng.choice(["", " ", "  "]) + '"' + v.replace('"', '""') + '"' for v in values)
            buf = io.StringIO()
            csv.writer(buf, quoting=quoting, lineterminator="\n").writerow(values)
            return buf.getvalue()[:-1]

        header = [_pad(rng, c, 0.1).replace("\u00a0", " ") for c in columns]
        header_chunks = [write(header)]
        chunks_per_row = []
        for cells, choices, post, outcome, token in made:
            values = []
            for c in columns:
                if c in choice_columns:
                    k = choice_columns.index(c)
                    values.append(choices[k] if k < len(choices) else "")
                else:
                    values.append(cells[c])
            if post == "add":
                values.append(rng.choice(["", "extra"]))
            elif post == "drop":
                values.pop(rng.randrange(len(values)))
            text = write(values)
            if callable(post):
                text = post(text)
            chunks_per_row.append((text, outcome, token))

    # Lay the file out: blank lines anywhere (also before the header), rows at known lines.
    chunks: list[str] = []
    placed: list[tuple[int, Good | Bad, str | None]] = []

    def blanks() -> None:
        while rng.random() < 0.12:
            chunks.append(rng.choice(["", "", " ", "\t", "   "]))
            benign.append("blank_line")

    for text in header_chunks:
        blanks()
        chunks.append(text)
    for text, outcome, token in chunks_per_row:
        blanks()
        line = 1 + sum(c.count("\n") + 1 for c in chunks)
        chunks.append(text)
        placed.append((line, outcome, token))
    blanks()

    # Resolve id tokens and duplicate ids in file order, as the doc states: an id left out or empty
    # is the line number; a second row with an id already taken (by a good row) is bad.
    case = Case(f"s{seed}_{fmt}.{'jsonl' if fmt == 'jsonl' else 'csv'}", fmt, b"", benign=benign)
    stem = case.name.rsplit(".", 1)[0]
    seen: list[str] = []
    for idx, (line, outcome, token) in enumerate(placed):
        chunk_index = _chunk_index(chunks, line)
        if token == DUP:
            if seen:
                chosen = rng.choice(seen)
                outcome = Bad("dup_id", "duplicate id", "id")
            else:
                chosen = "fresh-id"
                outcome = _intended(rows[idx])
                outcome.qid = chosen
            chunks[chunk_index] = chunks[chunk_index].replace(DUP, chosen)
        elif token == AHEAD:
            later = [ln for ln, _, _ in placed[idx + 1 :]] or [line + 1]
            chosen = str(rng.choice(later))
            chunks[chunk_index] = chunks[chunk_index].replace(AHEAD, chosen)
            outcome.qid = chosen
            benign.append("id_equals_later_line")
        if isinstance(outcome, Good):
            qid = outcome.qid if outcome.qid is not None else str(line)
            if qid in seen:
                outcome = Bad("id_collision", "duplicate id", "id")
            else:
                seen.append(qid)
                q = outcome.question
                case.good.append(Question(qid, f"user:{stem}", f"Question: {q}\nAnswer:", outcome.choices, outcome.gold, query=q))
        if isinstance(outcome, Bad):
            case.bad.append((line, outcome))
            case.mutations.append(outcome.mutation)

    text = "\n".join(chunks) + ("\n" if rng.random() < 0.8 else "")
    if rng.random() < 0.3:
        text = text.replace("\n", "\r\n")
        benign.append("crlf")
    data = text.encode("utf-8")
    while PLACEHOLDER.encode() in data:
        data = data.replace(PLACEHOLDER.encode(), rng.choice(BAD_BYTES), 1)
    if rng.random() < 0.3:
        data = b"\xef\xbb\xbf" + data
        benign.append("bom")
    case.data = data
    return case


def _chunk_index(chunks: list[str], line: int) -> int:
    at = 1
    for i, c in enumerate(chunks):
        if at == line:
            return i
        at += c.count("\n") + 1
    raise AssertionError(f"no chunk at line {line}")


# --- The property. ---


def check(case: Case, path) -> None:
    path.write_bytes(case.data)
    why = f"{case.name}: bad rows {[(ln, b.mutation) for ln, b in case.bad]}\n{case.data[:3000]!r}"

    qs = load_user_file(path, lenient=True)
    assert list(qs) == case.good, why
    assert qs.skipped.count == len(case.bad), f"{qs.skipped}\n{why}"
    reasons = Counter(f"{b.category} [{b.field}]" if b.field else b.category for _, b in case.bad)
    assert qs.skipped.reasons == reasons, f"{qs.skipped}\n{why}"
    # Examples: file:line and message of skipped rows (rows the reader skips come before rows the
    # parser skips, so not necessarily the first ones in the file).
    assert len(qs.skipped.examples) == min(len(case.bad), 5)
    expected = [f"{path}:{line}: {b.category}" for line, b in case.bad]
    for example in qs.skipped.examples:
        assert any(example.startswith(e) for e in expected), f"{example}\n{why}"

    try:
        qs = load_user_file(path)
    except DataError as e:
        assert case.bad, f"strict load failed on a file with no bad row: {e}\n{why}"
        line, first = case.bad[0]
        assert (e.path, e.line, e.field) == (str(path), line, first.field), f"{e}\nexpected line {line} {first}\n{why}"
        assert e.reason.startswith(first.category), f"{e}\nexpected {first}\n{why}"
        assert str(e).startswith(f"{path}:{line}: {first.category}"), why
    else:
        assert not case.bad, f"strict load accepted a bad row: {case.bad[0]}\n{why}"
        assert list(qs) == case.good, why


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")  # one folder for all (a tmp_path each costs more than a check)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", SEEDS)
def test_user_file_fuzz(fuzz_dir, seed, fmt):
    for mutated in (False, True):
        case = generate(seed, fmt, mutated)
        folder = fuzz_dir / f"{seed}-{fmt}-{'mutated' if mutated else 'clean'}"
        folder.mkdir()
        check(case, folder / case.name)


def test_strict_load_stops_at_the_first_bad_row_in_file_order(tmp_path, write, assert_located):
    p = write(tmp_path / "o.jsonl", '{"question": "q", "choices": ["a", "b"], "answer": 5}\n{"question": \n')
    with pytest.raises(DataError, match="gold index out of range") as e:  # the reader's invalid JSON is line 2
        load_user_file(p)
    assert_located(e.value, p, 1, "answer")


def test_generator_is_deterministic_and_covers_every_mutation():
    assert generate(3, "csv_json", True).data == generate(3, "csv_json", True).data
    for fmt in FORMATS:
        seen_bad, seen_benign = Counter(), Counter()
        for seed in SEEDS:
            for mutated in (False, True):
                case = generate(seed, fmt, mutated)
                seen_bad.update(case.mutations)
                seen_benign.update(case.benign)
        assert set(bad_mutations(fmt)) <= set(seen_bad), (fmt, set(bad_mutations(fmt)) - set(seen_bad))
        assert "id_collision" in seen_bad  # an explicit id equal to a later row's line number
        wanted = {"blank_line", "crlf", "bom", "answer_as_text", "empty_id", "numeric_choices", "agreeing_digit_choice"}
        wanted |= {"integral_float_answer", "jsonl_digit_text_answer"} if fmt == "jsonl" else {"space_before_quoted_cell"}
        assert wanted <= set(seen_benign), (fmt, wanted - set(seen_benign))


# --- Header problems: every row is refused, strict and lenient alike. ---

HEADERS = [  # (header, row, field): choice columns that are not choice1..choiceN
    ("question,choice0,choice1,choice2,answer", "q,a,b,c,0", "choice0"),  # was: choice0 silently left out
    ("question,choice1,choice2,Choice3,answer", "q,a,b,c,0", "choice1"),  # was: Choice3 silently left out
    ("question,choice01,choice02,answer", "q,a,b,0", "choice01"),  # was: 'missing field' choices
    ("question,choice1,choice3,answer", "q,a,b,0", "choice1"),
]


@pytest.mark.parametrize("header, row, fld", HEADERS, ids=[h[2] + "-" + h[0].split(",")[3] for h in HEADERS])
def test_bad_choice_columns_refuse_every_row(tmp_path, write, header, row, fld):
    p = write(tmp_path / "h.csv", f"{header}\n{row}\n\n{row}\n")
    with pytest.raises(DataError, match="choice columns must be choice1..choiceN") as e:
        load_user_file(p)
    assert (e.value.line, e.value.field) == (2, fld)
    qs = load_user_file(p, lenient=True)
    assert len(qs) == 0 and qs.skipped.count == 2


# --- The bugs the fuzz found, one input each. ---

ROW = '"question": "q", "choices": ["a", "b"]'
REFUSED = [  # (file name, content, message, field); before the fix: see the comment
    ("n.jsonl", '{' + ROW + ', "answer": ' + "1" * 5000 + '}\n', "invalid JSON: a number is too long", None),  # ValueError
    ("n.csv", 'question,choices,answer\nq,"[' + "1" * 5000 + ', ""b""]",0\n', "invalid JSON: a number is too long", "choices"),  # ValueError
    ("d.jsonl", '{' + ROW + ', "answer": 0, "x": ' + "[" * 100000 + "]" * 100000 + '}\n', "invalid JSON: nested too deeply", None),  # RecursionError
    ("i.jsonl", '{' + ROW + ', "answer": 0, "score": NaN}\n', "invalid JSON: NaN is not a JSON value", None),  # loaded
    ("i.csv", 'question,choices,answer\nq,"[""a"", Infinity]",0\n', "invalid JSON: Infinity", "choices"),  # 'wrong type'
    ("k.jsonl", '{' + ROW + ', "answer": 0, "answer": 1}\n', "duplicate field: 'answer'", "answer"),  # loaded with gold 1
    ("s.jsonl", '{"question": "q\\ud800", "choices": ["a", "b"], "answer": 0}\n', "not UTF-8: \\\\ud800", "question"),  # loaded
    ("s.csv", 'question,choices,answer\nq,"[""a\\udc00"", ""b""]",0\n', "not UTF-8: \\\\udc00", "choices"),  # loaded
    ("f.jsonl", '{' + ROW + ', "answer": 1.5}\n', "wrong type: answer 1.5 is not a whole number", "answer"),
    ("r.jsonl", '{' + ROW + ', "answer": 1.0000000000000001}\n', "wrong type: answer 1.0000000000000001", "answer"),  # 'wrong type'
    ("o.jsonl", '{' + ROW + ', "answer": 1e400}\n', "wrong type: answer 1e400 is not", "answer"),
    ("e.csv", 'question,choices,answer\nq, ,0\n', "missing field", "choices"),  # 'invalid JSON'
]


@pytest.mark.parametrize("name, content, message, fld", REFUSED, ids=[r[0] for r in REFUSED])
def test_found_bugs_now_refused(tmp_path, write, assert_located, name, content, message, fld):
    p = write(tmp_path / name, content)
    with pytest.raises(DataError, match=message) as e:
        load_user_file(p)
    assert_located(e.value, p, 2 if name.endswith(".csv") else 1, fld)
    qs = load_user_file(p, lenient=True)
    assert len(qs) == 0 and qs.skipped.count == 1


def test_found_bugs_now_read_as_written(tmp_path, write):
    # An integral JSON number is an index, as documented ("a JSON number (the index)"); was 'wrong type'.
    p = write(tmp_path / "f.jsonl", '{"question": "q", "choices": ["a", "b", "c"], "answer": 2.0}\n'
                                    '{"question": "r", "choices": ["a", "b", "c"], "answer": 1e0}\n')
    assert [q.gold for q in load_user_file(p)] == [2, 1]
    # CRLF inside a quoted cell is a line break like any other; was '\r\n' in the question.
    p = write(tmp_path / "c.csv", b'question,choice1,choice2,answer\r\n"two\r\nlines",a,b,0\r\nx,a,b,1\r\n')
    qs = load_user_file(p)
    assert qs[0].query == "two\nlines" and [q.id for q in qs] == ["2", "4"]
    # Spaces before a quoted cell, as people write CSV by hand; was ' "Paris' / ' France"' (wrong number of
    # cells) or, where the count fit, choices with the quotes in their text.
    p = write(tmp_path / "s.csv", 'question, choice1, choice2, answer\n"Capital?", "Paris, France", "London", 0\n'
                                  'Which?, "a", "b", "b"\n')
    qs = load_user_file(p)
    assert qs[0].choices == ("Paris, France", "London") and qs[1].choices == ("a", "b") and qs[1].gold == 1
