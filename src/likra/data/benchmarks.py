"""The benchmark registry: each benchmark is a short declaration, and its rows become `Question`s in
lm-evaluation-harness's prompt format for that task (context, choices, gold, target delimiter " ").

The parsers (row -> Question, in lm-eval's formats) live in formats.py. A split is read from the local
files under the data root when they are all there, else from the Hugging Face hub (hub.py; each
declaration names its hub source, lm-eval's dataset id and config), else it is a DataError naming both.

Also the user file format (`load_user_file`, see docs/DATA_FORMAT.md), which uses the ARC prompt.
All parsers share one set of checks; every error names file, line and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from likra import paths
from likra.data import hub
from likra.data.fewshot import fewshot_contexts, with_fewshot
from likra.data.questions import DataError, Question
from likra.data.formats import (
    RowInfo, parse_arc, parse_commonsense_qa, parse_hellaswag, parse_mmlu, parse_openbookqa, parse_piqa,
    parse_truthfulqa_mc1, parse_winogrande,
)
from likra.data.hub import (
    HubPart, HubSource, ai2_from_hub, openbookqa_from_hub, same_schema, truthfulqa_from_hub, winogrande_from_hub,
)
from likra.data.readers import SkipReport, count_lines, handle, locate, read_csv, read_jsonl, read_labels
from likra.data.user_rows import parse_user_row

Parser = Callable[[dict, RowInfo], Question]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: where its files are and how a row becomes a Question."""

    name: str
    """Registry name, e.g. 'arc_challenge'."""
    description: str
    """One line for humans."""
    splits: dict[str, tuple[str, ...]]
    """Labelled split name -> data files, relative to the data root. Unlabelled splits are absent."""
    parse: Parser
    """Row -> Question in the lm-eval format; raises DataError (field set) on bad rows."""
    train_split: str | None
    """Split to train the heads on; None where the data has no training split."""
    eval_split: str
    """Split lm-eval reports on."""
    fewshot_split: str | None
    """Split few-shot examples are drawn from; None where lm-eval uses none."""
    label_files: dict[str, str] = field(default_factory=dict)
    """Data file -> labels (.lst) file giving one label per line, for files that lack them."""
    family: str = ""
    """Benchmarks sharing questions and ids (arc, arc_easy, arc_challenge); '' means its own name."""
    all_splits: tuple[str, ...] | None = None
    """Splits that 'all' concatenates; None means every split (Winogrande's train_xs/s/m are
    prefixes of train_l, so they are left out of its 'all')."""
    unlabelled: tuple[str, ...] = ()
    """Splits present in the data without labels, named in the error when asked for."""
    id_field: str = "id"
    """Row field holding the dataset's question id (named in duplicate-id errors)."""
    fewshot_sampler: str = "default"
    """lm-eval's few-shot sampler: 'default' (random) or 'first_n' (MMLU)."""
    fewshot_spare: bool = False
    """Draw k+1 examples and keep the first k even when the question is not in the pool, as
    lm-eval 0.4 does for tasks whose YAML sets neither `fewshot_split` nor `test_split` (it then
    treats the few-shot split as the test split). It changes which examples later questions get,
    not which one this question gets: HellaSwag, Winogrande, CommonsenseQA, PIQA."""
    hub: HubSource | None = None
    """Where the same rows are on the Hugging Face hub, read when the local files are absent."""

    def __post_init__(self) -> None:
        hub_splits = tuple(self.hub.splits) if self.hub else ()
        for s in (self.train_split, self.eval_split, self.fewshot_split, *(self.all_splits or ()), *hub_splits):
            if s is not None and s != "all" and s not in self.splits:
                raise ValueError(f"benchmark {self.name}: unknown split {s!r}")

    @property
    def family_name(self) -> str:
        """The family used for id-based leak checks."""
        return self.family or self.name

    def split_names(self, split: str) -> tuple[str, ...]:
        """The splits that `split` means ('all' expands); unknown or unlabelled splits are errors."""
        if split == "all":
            return self.all_splits or tuple(self.splits)
        if split in self.splits:
            return (split,)
        why = " (it has no labels)" if split in self.unlabelled else ""
        known = ", ".join([*self.splits, "all"])
        raise DataError(f"benchmark {self.name} has no labelled split {split!r}{why}; splits: {known}")

    def has_labels_file(self, split: str) -> bool:
        """Whether a labels .lst file accompanies (some file of) the split."""
        return any(f in self.label_files for s in self.split_names(split) for f in self.splits[s])


@dataclass
class QuestionSet:
    """Questions loaded from one benchmark split or user file."""

    questions: list[Question]
    """The questions, in file order."""
    skipped: SkipReport
    """Rows left out in lenient mode (empty in strict mode)."""
    source: tuple[str, ...]
    """The files read."""

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __getitem__(self, i: int) -> Question:
        return self.questions[i]


_REGISTRY: dict[str, Benchmark] = {}


def _register(b: Benchmark) -> None:
    _REGISTRY[b.name] = b


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark called `name`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(_REGISTRY)}") from None


def list_benchmarks() -> list[str]:
    """Names of all registered benchmarks."""
    return list(_REGISTRY)


def family_of(benchmark: str) -> str:
    """Leak-check family of a benchmark name; unregistered names (user files) are their own."""
    return _REGISTRY[benchmark].family_name if benchmark in _REGISTRY else benchmark


def load_questions(
    name: str, split: str, data_root: str | os.PathLike | None = None, lenient: bool = False
) -> QuestionSet:
    """Load a labelled split ('all' = every labelled split) of a registered benchmark."""
    bench = get_benchmark(name)
    root = paths.data_root(data_root)
    collector = _Collector(bench.id_field, lenient)
    for split_name in bench.split_names(split):
        missing = [rel for rel in bench.splits[split_name] if not (root / rel).is_file()]
        if missing and bench.hub is not None:
            _read_hub(collector, bench, split_name, root, missing)
        else:
            _read_local(collector, bench, split_name, root)
    return collector.result()


def _read_local(collector: _Collector, bench: Benchmark, split: str, root: Path) -> None:
    for rel in bench.splits[split]:
        path = root / rel
        if not path.is_file():
            raise DataError(f"file not found (data root {root}; set $LIKRA_DATA or pass data_root)", path=str(path))
        labels = _labels(root, bench, rel, path)
        for line, row in collector.read(path, read_jsonl):
            label = labels[line - 1] if labels is not None else None
            collector.add(path, line, bench.parse, row, RowInfo(bench.name, split, line, label))


def _read_hub(collector: _Collector, bench: Benchmark, split: str, root: Path, missing: list[str]) -> None:
    """The split from the hub (all of it: a split is never half local, half hub); rows are numbered
    from 1 within each hub part, like lines within a file, so line-based ids match the local ones."""
    assert bench.hub is not None
    hub.announce(bench.name, split, root, bench.hub)
    try:
        parts = hub.read_split(bench.hub, split)
    except hub.HubUnavailable as e:
        raise hub.not_found(bench.name, split, missing, root, bench.hub, str(e)) from None
    for label, rows in parts:
        collector.sources.append(label)
        for line, row in enumerate(rows, start=1):
            info = RowInfo(bench.name, split, line)
            collector.add(label, line, hub.parse_row, bench.hub.convert, bench.parse, row, info)


def add_fewshot(questions: list[Question], benchmark: str, shots: int, seed: int = 1234,
                data_root: str | os.PathLike | None = None) -> list[Question]:
    """`questions` with `shots` solved examples from the benchmark's few-shot split before each,
    drawn as lm-eval draws them for this benchmark (its sampler, its spare draw, one seeded
    generator advanced question by question)."""
    if not shots:
        return list(questions)
    bench = get_benchmark(benchmark)
    if bench.fewshot_split is None:
        raise DataError(f"{benchmark} takes no few-shot examples (its prompt is fixed); use --shots 0")
    pool = list(load_questions(benchmark, bench.fewshot_split, data_root=data_root).questions)
    prefixes = fewshot_contexts(questions, pool, shots, seed, sampler=bench.fewshot_sampler, spare=bench.fewshot_spare)
    return [with_fewshot(q, prefix) for q, prefix in zip(questions, prefixes)]


def _labels(root: Path, bench: Benchmark, rel: str, path: Path) -> list[str] | None:
    if rel not in bench.label_files:
        return None
    lst = root / bench.label_files[rel]
    labels = read_labels(lst)
    n = count_lines(path)
    if len(labels) != n:
        raise DataError(f"labels file has {len(labels)} lines but {path} has {n}", path=str(lst))
    return labels


class _Collector:
    """Parses rows into questions, locating errors and refusing duplicate ids."""

    def __init__(self, id_field: str, lenient: bool):
        self.id_field, self.lenient = id_field, lenient
        self.questions: list[Question] = []
        self.skipped = SkipReport()
        self.sources: list[str] = []
        self.seen: dict[str, str] = {}  # id -> "file:line" of its first occurrence

    def read(self, path: Path, reader: Callable) -> Iterable[tuple[int, dict]]:
        """Rows of one file, its skips recorded. Strict: the rows before the reader's first bad line,
        then that error, so that an earlier row the parser refuses is reported first (file order)."""
        self.sources.append(str(path))
        if self.lenient:
            rows, skipped = reader(path, True)
            self.skipped.merge(skipped)
            return rows
        try:
            return reader(path, False)[0]
        except DataError as e:
            if e.line is None:
                raise
            return self._until(reader(path, True)[0], e)

    @staticmethod
    def _until(rows, err: DataError) -> Iterator[tuple[int, dict]]:
        for row in rows:
            if row[0] > err.line:
                break
            yield row
        raise err

    def add(self, path: Path | str, line: int, parse: Callable[..., Question], *args: object) -> None:
        """Parse one row (`parse(*args)`) and keep it, or raise/record the located error."""
        try:
            q = parse(*args)
            if q.id in self.seen:
                raise DataError(f"duplicate id: {q.id!r} already at {self.seen[q.id]}", field=self.id_field)
        except DataError as e:
            handle(locate(e, path, line), self.lenient, self.skipped)
            return
        self.seen[q.id] = f"{path}:{line}"
        self.questions.append(q)

    def result(self) -> QuestionSet:
        return QuestionSet(self.questions, self.skipped, tuple(self.sources))


def load_user_file(path: str | os.PathLike, lenient: bool = False, benchmark: str | None = None) -> QuestionSet:
    """Load questions in the user format (JSONL or CSV; docs/DATA_FORMAT.md), in the ARC prompt.

    `benchmark` names the set (default 'user:<file stem>')."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise DataError(f"unknown file type {suffix!r}: use .jsonl or .csv", path=str(path))
    is_csv = suffix == ".csv"
    name = benchmark or f"user:{path.stem}"
    collector = _Collector("id", lenient)
    for line, row in collector.read(path, read_csv if is_csv else read_jsonl):
        collector.add(path, line, parse_user_row, row, name, line, is_csv)
    return collector.result()


# --- The registry. Files are relative to the data root (see /work/shared/data/README.md). ---

_ARC_FILES = {s: ("arc/ARC-{}-" + s + ".jsonl") for s in ("train", "validation", "test")}


def _arc(name: str, parts: tuple[str, ...], description: str) -> Benchmark:
    splits = {s: tuple(f.format(p) for p in parts) for s, f in _ARC_FILES.items()}
    hub_source = HubSource("allenai/ai2_arc", tuple(f"ARC-{p}" for p in parts), ai2_from_hub)
    return Benchmark(name, description, splits, parse_arc, "train", "test", "train", family="arc", hub=hub_source)


_register(_arc("arc_easy", ("Easy",), "AI2 Reasoning Challenge, Easy set (grade-school science)"))
_register(_arc("arc_challenge", ("Challenge",), "AI2 Reasoning Challenge, Challenge set"))
_register(_arc("arc", ("Challenge", "Easy"), "ARC Challenge and Easy together (7787 questions)"))
_register(Benchmark(
    "hellaswag", "HellaSwag sentence completion (ActivityNet + WikiHow)",
    {"validation": ("hellaswag/validation.jsonl",)}, parse_hellaswag,
    # Train is not in the data; lm-eval would take few-shot examples from it, we fall back to
    # validation (fewshot_context leaves the question itself out).
    train_split=None, eval_split="validation", fewshot_split="validation", fewshot_spare=True,
    hub=HubSource("Rowan/hellaswag", (None,), same_schema),
))
_register(Benchmark(
    "winogrande", "WinoGrande 1.1 (xl) fill-in-the-blank, scored by partial evaluation",
    {s: (f"winogrande/{s}.jsonl",) for s in ("train_xs", "train_s", "train_m", "train_l", "validation")},
    parse_winogrande, train_split="train_l", eval_split="validation", fewshot_split="train_l",
    label_files={"winogrande/validation.jsonl": "winogrande/validation-labels.lst"},
    all_splits=("train_l", "validation"), unlabelled=("test", "train_xl"), id_field="qID",
    fewshot_spare=True,
    # lm-eval reads winogrande_xl; the smaller train sets are the 'train' split of their own configs.
    hub=HubSource("allenai/winogrande", ("winogrande_xl",), winogrande_from_hub,
                  {s: HubPart(f"winogrande_{s[6:]}", "train") for s in ("train_xs", "train_s", "train_m", "train_l")}),
))
_register(Benchmark(
    "mmlu", "MMLU, 57 subjects, lettered answers (lm-eval default)",
    {s: (f"mmlu/{s}.jsonl",) for s in ("test", "validation", "dev")}, parse_mmlu,
    train_split=None, eval_split="test", fewshot_split="dev", fewshot_sampler="first_n",
    # lm-eval reads one config per subject; 'all' holds all of them in one split (each row names its subject).
    hub=HubSource("cais/mmlu", ("all",), same_schema),
))
_register(Benchmark(
    "openbookqa", "OpenBookQA (main), elementary science with an open book of facts",
    {s: (f"openbookqa/{s}.jsonl",) for s in ("train", "validation", "test")}, parse_openbookqa,
    train_split="train", eval_split="test", fewshot_split="train",
    hub=HubSource("allenai/openbookqa", ("main",), openbookqa_from_hub),
))
_register(Benchmark(
    "commonsense_qa", "CommonsenseQA, lettered answers (lm-eval default)",
    {s: (f"commonsense_qa/{s}.jsonl",) for s in ("train", "validation")}, parse_commonsense_qa,
    train_split="train", eval_split="validation", fewshot_split="train", unlabelled=("test",),
    fewshot_spare=True, hub=HubSource("tau/commonsense_qa", (None,), ai2_from_hub),
))
_register(Benchmark(
    "piqa", "PIQA physical commonsense, two solutions per goal",
    {"validation": ("piqa/validation.jsonl",)}, parse_piqa,
    # train.jsonl is not in the data (only its labels), test has no labels.
    train_split=None, eval_split="validation", fewshot_split="validation", fewshot_spare=True,
    label_files={"piqa/validation.jsonl": "piqa/validation-labels.lst"}, unlabelled=("test", "train"),
    hub=HubSource("baber/piqa", (None,), same_schema),
))
_register(Benchmark(
    "truthfulqa_mc1", "TruthfulQA MC1 (817 questions, one true answer each)",
    {"validation": ("truthfulqa/mc_task_v1.jsonl",)}, parse_truthfulqa_mc1,
    train_split=None, eval_split="validation", fewshot_split=None,
    hub=HubSource("truthfulqa/truthful_qa", ("multiple_choice",), truthfulqa_from_hub),
))
