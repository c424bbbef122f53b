"""Benchmark rows from the Hugging Face hub, for users who lack the local files.

`load_questions` reads the local files under the data root when they are there, and only then falls
back to the hub, through the `datasets` library (which caches what it downloads). The dataset ids,
configs and splits are the ones lm-evaluation-harness 0.4.13's task YAMLs name (`dataset_path`,
`dataset_name`, `*_split`). A hub row is first converted to the raw schema of the local file and then
read by the benchmark's own parser, so both sources give the same `Question` for the same item: same
id, prompt, choices and gold. (Winogrande's hub rows have no `qID`: they get 'split:line' ids.)
`datasets` is imported only when the hub is needed: it is slow to import and pulls in pandas.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

from likra.data.formats import RowInfo
from likra.data.questions import DataError, Question
from likra.data.readers import get_field

RowConverter = Callable[[dict, RowInfo], dict]
_TRUE = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub reads as a set flag


class HubPart(NamedTuple):
    """One `datasets.load_dataset(path, config, split=split)` call."""

    config: str | None
    """Config name (lm-eval's `dataset_name`); None for datasets without configs."""
    split: str
    """The hub's split name."""


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the Hugging Face hub, and how its rows become the local schema."""

    path: str
    """Hub dataset id (lm-eval's `dataset_path`), e.g. 'allenai/ai2_arc'."""
    configs: tuple[str | None, ...]
    """Configs whose rows a split concatenates, in the order of the benchmark's local files
    (('ARC-Challenge', 'ARC-Easy') for 'arc'); (None,) for a dataset without configs."""
    convert: RowConverter
    """Hub row -> the local file's raw row, which the benchmark's own parser then reads."""
    splits: dict[str, HubPart] = field(default_factory=dict)
    """likra split -> hub part, where it is not (each of `configs`, the same split name):
    Winogrande's train_xs ... train_l are the 'train' split of configs of their own."""

    def parts(self, split: str) -> tuple[HubPart, ...]:
        """The hub parts that likra split `split` reads, in order."""
        if split in self.splits:
            return (self.splits[split],)
        return tuple(HubPart(c, split) for c in self.configs)

    def describe(self, split: str) -> str:
        """'allenai/ai2_arc (config ARC-Easy, split test)', for messages. (A split's parts share
        their hub split: they differ only in config.)"""
        parts = self.parts(split)
        configs = [p.config for p in parts if p.config]
        words = f"config{'s' * (len(configs) > 1)} {' + '.join(configs)}, " if configs else ""
        return f"{self.path} ({words}split {parts[0].split})"

    def label(self, part: HubPart) -> str:
        """'hf:allenai/ai2_arc/ARC-Easy/test': names the part in errors and `QuestionSet.source`."""
        return "hf:" + "/".join(x for x in (self.path, part.config, part.split) if x)


class HubUnavailable(Exception):
    """The hub could not supply a split (offline, no network, no `datasets`, unknown id)."""


def load_dataset_rows(path: str, name: str | None, split: str) -> Iterable[dict]:
    """The rows of one hub split, as dicts. Tests replace this to read local files instead."""
    import datasets  # lazy: only users without local files pay for it

    return datasets.load_dataset(path, name, split=split)


def read_split(source: HubSource, split: str) -> list[tuple[str, Iterable[dict]]]:
    """(label, rows) for each hub part of `split`; HubUnavailable says why it could not."""
    out = []
    for part in source.parts(split):
        try:
            rows = load_dataset_rows(source.path, part.config, part.split)
        except ImportError as e:
            if e.name != "datasets":  # a broken install of one of its own dependencies: say which
                raise HubUnavailable(f"importing datasets failed: {e}") from e
            raise HubUnavailable("the datasets library is not installed (pip install 'datasets>=2.19')") from None
        except Exception as e:  # datasets raises many kinds (ConnectionError, FileNotFoundError, ValueError ...)
            raise HubUnavailable(f"{type(e).__name__}: {_first_line(e)}") from e
        out.append((source.label(part), rows))
    return out


def parse_row(convert: RowConverter, parse: Callable[[dict, RowInfo], Question], row: dict, info: RowInfo) -> Question:
    """A hub row as its benchmark's parser reads the same item from the local file."""
    return parse(convert(dict(row), info), info)


def announce(benchmark: str, split: str, root: Path, source: HubSource) -> None:
    """Say on stderr that the hub is being used (a download can take a while, or fail slowly)."""
    print(f"likra: {benchmark} {split}: local files not found under {root}; reading {source.describe(split)} "
          "from the Hugging Face hub (cached by datasets)", file=sys.stderr, flush=True)


def not_found(benchmark: str, split: str, missing: list[str], root: Path, source: HubSource, why: str) -> DataError:
    """The error for a split found neither locally (`missing`: its absent files, relative to `root`)
    nor on the hub: both places, and both fixes. One line, as every DataError message is."""
    more = f"; {len(missing) - 1} more of its files missing too" if len(missing) > 1 else ""
    offline = [v for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if os.environ.get(v, "").upper() in _TRUE]
    network = (f"unset {' and '.join(offline)} (or set to 0) and connect to the network" if offline
               else "connect to the network")
    return DataError(
        f"file not found for {benchmark} {split} (data root {root}{more}), and loading {source.describe(split)} "
        f"from the Hugging Face hub failed: {why}. To fix: pass --data-root DIR or `export LIKRA_DATA=DIR` "
        f"(DIR holding {missing[0]}), or {network} so that datasets can download {source.path}",
        path=str(root / missing[0]),
    )


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "(no message)"


# --- Converters: hub row (HF schema) -> the local file's raw row. ---


def same_schema(row: dict, info: RowInfo) -> dict:
    """HellaSwag, MMLU, PIQA: the hub rows have the local files' fields."""
    return row


def ai2_from_hub(row: dict, info: RowInfo) -> dict:
    """ARC, CommonsenseQA: {question, choices: {text, label}, answerKey} -> the AI2 nested schema."""
    return _ai2(row, get_field(row, "question"))


def openbookqa_from_hub(row: dict, info: RowInfo) -> dict:
    """OpenBookQA: as ARC, but the question is in `question_stem`."""
    return _ai2(row, get_field(row, "question_stem"))


def _ai2(row: dict, stem: str) -> dict:
    texts, labels = get_field(row, "choices.text", list), get_field(row, "choices.label", list)
    if len(texts) != len(labels):
        raise DataError(f"choices.text has {len(texts)} entries but choices.label {len(labels)}", field="choices")
    choices = [{"text": t, "label": lab} for t, lab in zip(texts, labels)]
    return {"id": row.get("id"), "question": {"stem": stem, "choices": choices}, "answerKey": row.get("answerKey")}


def winogrande_from_hub(row: dict, info: RowInfo) -> dict:
    """Winogrande: the hub rows lack `qID`, so they take the 'split:line' id other benchmarks use."""
    return {**row, "qID": row.get("qID") or f"{info.split}:{info.line}"}


def truthfulqa_from_hub(row: dict, info: RowInfo) -> dict:
    """TruthfulQA MC1: mc1_targets {choices: [...], labels: [0/1]} -> the local {choice: 0/1} object."""
    texts = get_field(row, "mc1_targets.choices", list)
    labels: list[Any] = get_field(row, "mc1_targets.labels", list)
    targets = dict(zip(texts, labels))
    if len(texts) != len(labels) or len(targets) != len(texts):
        raise DataError("choices and labels differ in length, or a choice is repeated", field="mc1_targets")
    return {"question": row.get("question"), "mc1_targets": targets}
