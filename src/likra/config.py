"""Typed configs for every run. A config file (JSON or TOML) fills them; command-line flags override.

Nested sections mirror the dataclasses: [model], [data], [lora], [train], [eval].
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from likra.heads import LoraSettings
from likra.train import TrainConfig


@dataclass(frozen=True)
class ModelConfig:
    spec: str = "smollm2-135m"
    """A named packaged model (see `likra models`), a transformers folder, a .gguf file or a hub id."""
    device: str = "auto"
    """'auto' (cuda if available, else cpu), or a torch device such as 'cpu', 'cuda:1'."""
    dtype: str = "auto"
    """'auto' (float32 on CPU, bfloat16 on CUDA), 'float32', 'bfloat16' or 'float16'."""
    cache_dir: str | None = None
    """Where converted models are cached (default $LIKRA_CACHE or ~/.cache/likra)."""


@dataclass(frozen=True)
class DataConfig:
    benchmark: str = "arc"
    """Benchmark whose questions train the heads (`likra benchmarks` lists them)."""
    train_split: str = "all"
    """Split of `benchmark` to train on; 'all' = every labelled split (evaluation questions are removed)."""
    user_file: str | None = None
    """Train on your own JSONL/CSV file instead (docs/DATA_FORMAT.md)."""
    eval_benchmark: str = "arc_challenge"
    """Benchmark evaluated on; its questions never enter training (checked by id and by text)."""
    eval_split: str = "test"
    """Split of `eval_benchmark` held out and evaluated."""
    n_train: int | None = None
    """Number of training questions (seeded sample); None = all."""
    negative_kind: str = "near-miss"
    """'near-miss' (wrong choice of the same question), 'irrelevant' (gold of another question of the
    same benchmark) or 'unrelated' (an answer from `unrelated_benchmark`)."""
    negative_strategy: str = "random"
    """Which wrong choice a near-miss uses: 'random', 'hardest' or 'easiest' by the base model's score."""
    unrelated_benchmark: str = "hellaswag"
    """Source of 'unrelated' negatives (its gold answers; lettered benchmarks such as mmlu do not fit)."""
    data_root: str | None = None
    """Benchmark data folder (default $LIKRA_DATA or ../shared/data beside the repo)."""
    lenient: bool = False
    """Skip malformed rows (counted and reported) instead of stopping at the first."""
    seed: int = 0
    """Seed of sampling and negative selection."""


@dataclass(frozen=True)
class EvalConfig:
    benchmark: str = "arc_challenge"
    """Benchmark to evaluate."""
    split: str = "test"
    """Split to evaluate."""
    limit: int | None = None
    """Evaluate the first N questions of a seeded shuffle (None = all)."""
    shots: int = 0
    """Few-shot examples per question (lm-eval style, from the benchmark's few-shot split)."""
    checkpoints: str = "final"
    """'final', 'all' (a learning curve) or comma-separated examples-seen values, e.g. '64,256'."""
    weights: tuple[float, ...] = (1.0,)
    """Weights w in L+ - w*L- to report."""
    batch_tokens: int | None = None
    """Padded tokens per scoring forward pass; None: the device's default (1024 on CPU, 16384 on CUDA)."""
    seed: int = 1234
    """Seed of the subset and few-shot sampling (lm-eval uses 1234)."""
    data_root: str | None = None
    """Benchmark data folder."""


@dataclass(frozen=True)
class TrainRunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    """The base model."""
    data: DataConfig = field(default_factory=DataConfig)
    """What to train on."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    """LoRA shape of both heads."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimiser and checkpoint settings."""
    heads: tuple[str, ...] = ("pos", "neg")
    """Heads to train: ('pos', 'neg'), ('neg',) = Base-Likra, ('pos',) = SFT."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {e}") from e


def from_dict(cls, values: dict[str, Any], where: str = "config"):
    """Build dataclass `cls` from nested dicts, rejecting unknown keys with their location."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    kwargs = {}
    default = cls()
    for name, value in values.items():
        current = getattr(default, name)
        if is_dataclass(current):
            kwargs[name] = from_dict(type(current), value, f"{where}.{name}")
        elif isinstance(current, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def override(obj, **changes):
    """dataclasses.replace, ignoring None (a flag that was not given)."""
    return replace(obj, **{k: v for k, v in changes.items() if v is not None})
