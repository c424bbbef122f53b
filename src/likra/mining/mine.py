"""Mine near-miss negatives: the wrong answers the base model itself samples.

For each question with a known answer, sample K one-line answers from the base model
(likra.mining.generation), judge each against the gold with a checker, and keep the wrong ones as the
question's `negatives`. The output is a user file (docs/DATA_FORMAT.md) that
`likra train --user-file OUT --negatives mined` trains on, and a report beside it.

A checker only ever calls an answer wrong when it is sure: anything it cannot decide is
'unjudged' and is neither a negative nor counted correct. A mined negative is never the gold answer
(or an alias) after `normalise_answer`; a checker that says otherwise is a bug and stops the run.

Like every run, `mine` takes a loaded model and never loads one; reading and checking the questions
(`load_mine_input`, `benchmark_items`, `check_items`) needs no torch, so bad input fails first.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

from likra.data.questions import DataError, Question, normalise_answer
from likra.errors import ConfigError
from likra.mining.generation import SamplingConfig, dedup_key, generate_for

Verdict = Literal["correct", "wrong", "unjudged"]
VERDICTS: tuple[Verdict, ...] = ("correct", "wrong", "unjudged")
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class MineItem:
    """One question to mine, with every text that counts as its right answer."""

    question: Question
    """The question, in the user-file prompt; its gold choice is the reference answer."""
    aliases: tuple[str, ...] = ()
    """Other texts of the right answer (e.g. 'CO2' for 'carbon dioxide'), never mined as negatives."""

    @property
    def answers(self) -> tuple[str, ...]:
        """The gold answer's text, then its aliases."""
        q = self.question
        return (q.choices[q.gold], *self.aliases)

    @property
    def has_choices(self) -> bool:
        """Whether it is multiple choice (a free-form question has its answer as its one choice)."""
        return len(self.question.choices) > 1


# ---------------------------------------------------------------- checkers


class Checker(ABC):
    """Judges one sampled answer against a question's right answer(s)."""

    name: ClassVar[str]
    """Registry name (`likra mine --checker NAME`)."""
    description: ClassVar[str]
    """One line for --help."""
    needs_choices: ClassVar[bool] = False
    """Whether it can only judge multiple-choice questions."""

    @abstractmethod
    def judge(self, generation: str, item: MineItem) -> Verdict:
        """'correct', 'wrong', or 'unjudged' when it cannot tell."""


CHECKERS: dict[str, type[Checker]] = {}


def register(cls: type[Checker]) -> type[Checker]:
    """Class decorator: add a checker to the registry under its `name`."""
    CHECKERS[cls.name] = cls
    return cls


def get_checker(name: str) -> Checker:
    """A new checker of the registered name."""
    if name not in CHECKERS:
        raise ConfigError(f"unknown checker {name!r}; checkers: {', '.join(CHECKERS)}", field="checker")
    return CHECKERS[name]()


def _contains_span(text: str, span: str) -> bool:
    """Whether the words of `span` occur as consecutive whole words of `text` (both normalised)."""
    return bool(span) and f" {span} " in f" {text} "


@register
class NormalisedMatch(Checker):
    """Free-form answers. With n = `normalise_answer` (casefold, punctuation and a/an/the dropped,
    spaces collapsed): correct if n(generation) equals n of the gold or an alias; unjudged if it is
    empty, or if one contains the other as whole consecutive words ('carbon dioxide gas', 'not
    carbon dioxide', 'Paris' for 'Paris, France': maybe right, maybe not); wrong otherwise."""

    name = "match"
    description = "normalised string match against the answer and its aliases (free-form questions)"

    def judge(self, generation: str, item: MineItem) -> Verdict:
        g = normalise_answer(generation)
        golds = {k for k in map(normalise_answer, item.answers) if k}
        if not g:
            return "unjudged"
        if g in golds:
            return "correct"
        if any(_contains_span(g, k) or _contains_span(k, g) for k in golds):
            return "unjudged"
        return "wrong"


@register
class ChoiceMapper(Checker):
    """Multiple choice: a generation is the choice it equals after `normalise_answer`, when it equals
    exactly one (aliases count as texts of the gold choice); the gold choice is correct, another
    choice wrong; none or several is unjudged (so a wrong choice whose text is the gold's is never
    a negative)."""

    name = "choice"
    description = "map the answer to exactly one choice: gold = correct, another = wrong (multiple choice)"
    needs_choices = True

    def judge(self, generation: str, item: MineItem) -> Verdict:
        g = normalise_answer(generation)
        q = item.question
        texts = [(i, c) for i, c in enumerate(q.choices)] + [(q.gold, a) for a in item.aliases]
        hits = {i for i, t in texts if g and normalise_answer(t) == g}
        if len(hits) != 1:
            return "unjudged"
        return "correct" if hits == {q.gold} else "wrong"


def default_checker(items: Sequence[MineItem]) -> str:
    """'choice' when every question is multiple choice, else 'match'."""
    return "choice" if items and all(it.has_choices for it in items) else "match"


# ---------------------------------------------------------------- input


def check_items(items: Sequence[MineItem], checker: Checker) -> None:
    """Refuse questions this run cannot mine, before any model loads."""
    if not items:
        raise DataError("no questions to mine")
    for it in items:
        if checker.needs_choices and not it.has_choices:
            raise DataError(f"question {it.question.id}: checker {checker.name!r} needs choices and it has none; use "
                            "--checker match", field="choices")


def benchmark_items(name: str, split: str, data_root: str | None = None) -> list[MineItem]:
    """A registered benchmark's split as items. Its questions are re-posed in the user-file prompt
    (`Question: <query>\\nAnswer:`), the prompt the mined file trains after, so the answers are
    sampled after exactly that prompt."""
    from likra.data.benchmarks import load_questions

    return [question_item(q, name) for q in load_questions(name, split, data_root=data_root).questions]


def question_item(q: Question, benchmark: str) -> MineItem:
    """A benchmark question as an item, re-posed in the user-file prompt the mined file trains after."""
    from likra.data.user_rows import USER_TEMPLATE

    _minable(q, benchmark)
    return MineItem(Question(q.id, q.benchmark, USER_TEMPLATE.format(question=q.query.strip()), q.choices, q.gold,
                             query=q.query.strip()))


def _minable(q: Question, benchmark: str) -> None:
    # The mined file is a user file: a question must be its query text plus its choices' texts.
    if q.choice_contexts is not None:
        raise DataError(f"{benchmark}: its questions are scored per choice context (partial scoring), which a "
                        "question-and-answer file cannot hold; mine another benchmark")
    if all(len(c) == 1 and c.isupper() for c in q.choices):
        raise DataError(f"{benchmark}: its choices are letters (the answer texts are in the prompt), so a sampled "
                        "answer cannot be matched to a choice; mine another benchmark")
    if not q.query.strip():
        raise DataError(f"{benchmark}: question {q.id} has no question text", field="query")


def load_mine_input(path: str | Path) -> list[MineItem]:
    """A user file (JSONL or CSV) of questions to mine: `question` and `answer` (the answer's text
    when there are no `choices`), optional `id`, `choices`, `aliases` (a list of strings) and
    `negatives` (kept, and the mined ones added). Strict: the first bad row is an error naming
    file:line:field."""
    from likra.data.readers import locate, read_csv, read_jsonl
    from likra.data.user_rows import parse_user_row, string_list

    path = Path(path)
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".csv"):
        raise DataError(f"unknown file type {path.suffix!r}: use .jsonl or .csv", path=str(path))
    is_csv = path.suffix.lower() == ".csv"
    rows, _ = (read_csv if is_csv else read_jsonl)(path)
    items, seen = [], {}
    for line, row in rows:
        try:
            q = parse_user_row(row, f"user:{path.stem}", line, is_csv, free_form=True)
            aliases = string_list(row, "aliases", is_csv, "alias")
            if q.id in seen:
                raise DataError(f"duplicate id: {q.id!r} already at line {seen[q.id]}", field="id")
        except DataError as e:
            raise locate(e, path, line) from None
        seen[q.id] = line
        items.append(MineItem(q, aliases))
    return items


# ---------------------------------------------------------------- mining


@dataclass
class MineReport:
    """What a mining run sampled and judged (written as OUT.report.json)."""

    questions: int
    """Questions mined."""
    with_negatives: int
    """Questions with at least one wrong answer: the rows written."""
    sampled: int
    """Sequences sampled: questions x k."""
    generations: int
    """Distinct non-empty answers among them (what was judged): correct + wrong + unjudged."""
    correct: int
    """Answers judged right."""
    wrong: int
    """Answers judged wrong: the mined negatives."""
    unjudged: int
    """Answers the checker could not decide; neither negatives nor counted right."""
    checker: str
    """The checker's registry name."""
    sampling: dict
    """The SamplingConfig, as a dict."""
    examples: list[dict] = field(default_factory=list)
    """The first few questions: id, gold, and each answer with its verdict."""


@dataclass
class MineResult:
    """Rows to write (questions with negatives, in the user format) and the report."""

    rows: list[dict]
    """One user-format row per question with at least one negative."""
    report: MineReport
    """Counts and examples."""


def mine(model: Any, items: Sequence[MineItem], checker: Checker, cfg: SamplingConfig,
         progress: bool = False, journal: str | Path | None = None) -> MineResult:
    """Sample `cfg.k` answers per item from the base model of `model` (a LikraModel or LoadedModel),
    judge them, and keep the wrong ones. `journal`: a file that saves the samples batch by batch, so a
    cut-off run resumes (journal_path; write_mined removes it)."""
    check_items(items, checker)
    answers = generate_for(model, [it.question.query for it in items], cfg, progress=progress, journal=journal)
    counts = dict.fromkeys(VERDICTS, 0)
    rows, examples = [], []
    for it, generated in zip(items, answers):
        verdicts = [checker.judge(g, it) for g in generated]
        for v in verdicts:
            counts[v] += 1
        negatives = _negatives(it, [g for g, v in zip(generated, verdicts) if v == "wrong"], checker)
        if negatives:
            rows.append(to_row(it, negatives))
        if len(examples) < MAX_EXAMPLES:
            examples.append({"id": it.question.id, "gold": it.answers[0],
                             "answers": [[g, v] for g, v in zip(generated, verdicts)]})
    report = MineReport(len(items), len(rows), len(items) * cfg.k, sum(counts.values()), counts["correct"],
                        counts["wrong"], counts["unjudged"], checker.name, asdict(cfg), examples)
    return MineResult(rows, report)


def _negatives(item: MineItem, wrong: list[str], checker: Checker) -> list[str]:
    """The question's own negatives, then the newly mined ones not already among them."""
    golds = {normalise_answer(a) for a in item.answers}
    bad = [w for w in wrong if normalise_answer(w) in golds]
    if bad:  # the checker contradicts the rule every checker keeps: a bug, never a silent negative
        raise RuntimeError(f"checker {checker.name!r} judged {bad[0]!r} wrong, but it is the answer of question "
                           f"{item.question.id} ({item.answers[0]!r})")
    out = list(item.question.negatives)
    keys = {dedup_key(n) for n in out}
    for w in wrong:
        if dedup_key(w) not in keys:
            keys.add(dedup_key(w))
            out.append(w)
    return out


def to_row(item: MineItem, negatives: Sequence[str]) -> dict:
    """The user-format row of a mined question (docs/DATA_FORMAT.md): a multiple-choice question
    keeps its choices and gives the answer as an index; a free-form one gives the answer's text."""
    q = item.question
    row: dict = {"id": q.id, "question": q.query}
    if item.has_choices:
        row.update(choices=list(q.choices), answer=q.gold)
    else:
        row["answer"] = q.choices[q.gold]
    if item.aliases:
        row["aliases"] = list(item.aliases)
    row.update(negatives=list(negatives), source=q.benchmark)
    return row


def report_path(out: str | Path) -> Path:
    """Where the report of a mined file goes: beside it, 'mined.jsonl' -> 'mined.report.json'."""
    out = Path(out)
    return out.with_name(out.stem + ".report.json")


def journal_path(out: str | Path) -> Path:
    """Where the samples of a mined file are saved while it is mined: 'mined.jsonl' -> 'mined.samples.partial'."""
    out = Path(out)
    return out.with_name(out.stem + ".samples.partial")


def write_mined(result: MineResult, out: str | Path) -> Path:
    """Write the rows (JSONL) and the report beside them, each atomically, then remove the samples'
    journal (journal_path), whose work they hold; returns the report path."""
    from likra.io_utils import atomic_write_json, atomic_write_text

    atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.rows))
    atomic_write_json(report_path(out), result.report)
    journal_path(out).unlink(missing_ok=True)
    return report_path(out)
