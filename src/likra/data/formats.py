"""Row -> Question parsers, one per dataset schema, each mirroring its lm-evaluation-harness task.

Formats follow lm-eval's task yaml/utils.py: arc_easy/arc_challenge, hellaswag, winogrande (partial
scoring), mmlu (default, with its per-subject description), openbookqa, commonsense_qa (the current
lettered default.yaml), piqa and truthfulqa_mc1 (its 6-shot QA primer is part of every context).
Every parser raises DataError with the field set; the loader adds file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from likra.data.questions import DataError, Question
from likra.data.readers import check_choices, check_gold, get_field


@dataclass(frozen=True)
class RowInfo:
    """Where a row came from; handed to a parser with the row."""

    benchmark: str
    """Registry name of the benchmark being loaded (becomes `Question.benchmark`)."""
    split: str
    """Split the row belongs to."""
    line: int
    """1-based line number of the row in its file (ids fall back to it)."""
    label: str | None = None
    """The row's label from an accompanying .lst file, if the split has one."""


def _line_id(info: RowInfo) -> str:
    # For datasets without (unique) ids: split and line are unique within a benchmark.
    return f"{info.split}:{info.line}"


def _ai2_row(row: dict, key_strip: bool = False) -> tuple[str, list[str], int]:
    """The AI2 schema (ARC, OpenBookQA, CommonsenseQA): question.stem, question.choices as
    [{'text', 'label'}] and answerKey naming a label -> (stem, choice texts, gold index)."""
    stem = get_field(row, "question.stem")
    texts, labels = [], []
    for i, c in enumerate(get_field(row, "question.choices", list)):
        try:
            texts.append(get_field(c if isinstance(c, dict) else {}, "text"))
            labels.append(str(get_field(c, "label", (str, int))))
        except DataError as e:
            raise DataError(e.reason, field=f"question.choices[{i}].{e.field}") from None
    check_choices(texts, "question.choices")
    key = get_field(row, "answerKey", (str, int))
    key = str(key).lstrip() if key_strip else str(key)  # lm-eval strips OpenBookQA's keys only
    if key not in labels:
        raise DataError(f"gold index out of range: answer key {key!r} is not a choice label {labels}",
                        field="answerKey")
    return stem, texts, labels.index(key)


def _two(row: dict, a: str, b: str) -> list[str]:
    """Two choices held in their own fields (Winogrande options, PIQA solutions), checked."""
    values = [get_field(row, a), get_field(row, b)]
    for name, v in zip((a, b), values):
        if not v.strip():
            raise DataError("empty choice", field=name)
    return values


def _strings(values: list, name: str) -> list[str]:
    if any(not isinstance(v, str) for v in values):
        raise DataError("wrong type: every choice must be a string", field=name)
    return values


def _lettered(stem: str, texts: list[str]) -> tuple[str, tuple[str, ...]]:
    """lm-eval's MMLU/CSQA layout: options listed under the question, answered by letter."""
    letters = tuple(chr(ord("A") + i) for i in range(len(texts)))
    options = "".join(f"\n{letter}. {t}" for letter, t in zip(letters, texts))
    return f"{stem.strip()}{options}\nAnswer:", letters


def parse_arc(row: dict, info: RowInfo) -> Question:
    stem, texts, gold = _ai2_row(row)
    return Question(get_field(row, "id"), info.benchmark, f"Question: {stem}\nAnswer:", tuple(texts), gold, query=stem)


def parse_openbookqa(row: dict, info: RowInfo) -> Question:
    stem, texts, gold = _ai2_row(row, key_strip=True)
    return Question(get_field(row, "id"), info.benchmark, stem, tuple(texts), gold, query=stem)


def parse_commonsense_qa(row: dict, info: RowInfo) -> Question:
    stem, texts, gold = _ai2_row(row)
    context, letters = _lettered(stem, texts)
    return Question(get_field(row, "id"), info.benchmark, "Question: " + context, letters, gold, query=stem)


def parse_mmlu(row: dict, info: RowInfo) -> Question:
    stem, subject = get_field(row, "question"), get_field(row, "subject")
    texts = _strings(get_field(row, "choices", list), "choices")
    check_choices(texts, "choices")
    gold = check_gold(get_field(row, "answer", int), len(texts), "answer")
    # lm-eval's per-subject task description, stated once before any few-shot examples.
    description = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
    context, letters = _lettered(stem, texts)
    return Question(_line_id(info), info.benchmark, description + context, letters, gold, query=stem,
                    description=description)


def _hellaswag_clean(text: str) -> str:
    """lm-eval's hellaswag preprocess: drop WikiHow's bracketed markers, fix double spaces."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def parse_hellaswag(row: dict, info: RowInfo) -> Question:
    ctx = get_field(row, "ctx_a") + " " + get_field(row, "ctx_b").capitalize()
    query = _hellaswag_clean(get_field(row, "activity_label") + ": " + ctx)
    endings = [_hellaswag_clean(e) for e in _strings(get_field(row, "endings", list), "endings")]
    check_choices(endings, "endings")
    gold = check_gold(_as_int(get_field(row, "label", (int, str)), "label"), len(endings), "label")
    return Question(_line_id(info), info.benchmark, query, tuple(endings), gold, query=query)


def _as_int(value: int | str, name: str) -> int:
    if isinstance(value, int):
        return value
    if not value.strip().lstrip("-").isdigit():
        raise DataError(f"wrong type: expected an integer, got {value!r}", field=name)
    return int(value)


def _row_or_file_label(row: dict, info: RowInfo, name: str) -> str:
    """The label from the row, else from the .lst file; both present must agree."""
    in_row = row.get(name)
    if in_row not in (None, "") and info.label is not None and str(in_row) != info.label:
        raise DataError(f"label mismatch: row says {in_row!r}, labels file says {info.label!r}", field=name)
    label = str(in_row) if in_row not in (None, "") else info.label
    if label is None:
        raise DataError("missing field: no label in the row or a labels file", field=name)
    return label


def parse_winogrande(row: dict, info: RowInfo) -> Question:
    sentence = get_field(row, "sentence")
    options = _two(row, "option1", "option2")
    if "_" not in sentence:
        raise DataError("missing blank: sentence has no '_'", field="sentence")
    answer = _row_or_file_label(row, info, "answer")
    if answer not in ("1", "2"):
        raise DataError(f"gold index out of range: answer {answer!r} is not '1' or '2'", field="answer")
    # lm-eval partial scoring: each option fills the blank and ends the context; the scored
    # continuation is the rest of the sentence, the same for both options.
    idx = sentence.index("_")
    rest = sentence[idx + 1 :].strip()
    contexts = tuple(sentence[:idx] + o for o in options)
    qid = get_field(row, "qID")
    return Question(qid, info.benchmark, sentence[:idx], (rest, rest), int(answer) - 1, choice_contexts=contexts,
                    query=sentence)


def parse_piqa(row: dict, info: RowInfo) -> Question:
    goal = get_field(row, "goal")
    sols = _two(row, "sol1", "sol2")
    gold = check_gold(_as_int(_row_or_file_label(row, info, "label"), "label"), 2, "label")
    return Question(_line_id(info), info.benchmark, f"Question: {goal}\nAnswer:", tuple(sols), gold, query=goal)


# lm-eval truthfulqa_mc1's fixed QA primer (from its doc_to_text), part of every context.
TRUTHFULQA_PRIMER = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain."
)


def parse_truthfulqa_mc1(row: dict, info: RowInfo) -> Question:
    question = get_field(row, "question")
    targets = get_field(row, "mc1_targets", dict)
    texts, golds = list(targets), [i for i, v in enumerate(targets.values()) if v == 1]
    check_choices(texts, "mc1_targets")
    if len(golds) != 1:
        raise DataError(f"gold index out of range: {len(golds)} answers marked true, expected 1", field="mc1_targets")
    description = TRUTHFULQA_PRIMER + "\n\n"
    context = f"{description}Q: {question}\nA:"
    return Question(_line_id(info), info.benchmark, context, tuple(texts), golds[0], query=question,
                    description=description)


