"""The seeded generator of user files for the reader fuzz test (test_reader_fuzz.py): random valid
question sets in JSONL and both CSV layouts, and one mutation per row whose outcome (bad: refused;
benign: read as intended) is known by construction."""


from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field


from likra.data.questions import Question

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


# --- Whole files (the row writers are in fuzz_rows.py). ---


def generate(seed: int, fmt: str, mutated: bool) -> Case:
    """The file for (seed, fmt, mutated) and what loading it must give."""
    from tests.data.fuzz_rows import _csv_row, _jsonl_row  # imported here: they import this module
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
                case.good.append(Question(qid, f"user:{stem}", f"Question: {q}\nAnswer:", outcome.choices, outcome.gold,
                                          query=q))
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
