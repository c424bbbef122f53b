"""Typed configs for every run. A config file (JSON or TOML) fills them; command-line flags override.

Nested sections mirror the dataclasses: [model], [data], [lora], [train], [eval]. Torch-free (stdlib
only), so `likra --help` and `likra report` never load torch. Every config checks its fields' types
and ranges when built (likra.checks): an invalid config cannot exist, and the error names the
setting (`data.n_train`) before any model loads.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from likra.checks import above, at_least, checked, each, in_range, matches, nonempty, one_of, optional
from likra.errors import ConfigError

NEGATIVE_KINDS = ("near-miss", "irrelevant", "unrelated", "mined")
NEAR_MISS_STRATEGIES = ("random", "hardest", "easiest")
LENGTH_POLICIES = ("error", "truncate", "skip")
HEAD_NAMES = ("pos", "neg")
_DEVICE = r"auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?"
_CHECKPOINTS = r"final|all|\d+(,\d+)*"


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

    SECTION: ClassVar[str] = "model"

    def __post_init__(self) -> None:
        checked(self, spec=nonempty, device=matches(_DEVICE, "auto, cpu, mps, cuda or cuda:N"),
                dtype=one_of("auto", "float32", "bfloat16", "float16"))


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
    same benchmark), 'unrelated' (an answer from `unrelated_benchmark`) or 'mined' (one of each question's
    own `negatives` from a user file, e.g. written by `likra mine`)."""
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
    length_policy: str = "error"
    """A training example longer than the model's context: 'error' (default, lists them) or 'skip'
    (left out, counted and reported)."""

    SECTION: ClassVar[str] = "data"

    def __post_init__(self) -> None:
        checked(self, benchmark=nonempty, train_split=nonempty, eval_benchmark=nonempty, eval_split=nonempty,
                n_train=optional(at_least(1)), negative_kind=one_of(*NEGATIVE_KINDS),
                negative_strategy=one_of(*NEAR_MISS_STRATEGIES), unrelated_benchmark=nonempty, seed=at_least(0),
                length_policy=one_of("error", "skip"))
        if self.negative_strategy != "random" and self.negative_kind != "near-miss":
            raise ConfigError(f"data.negative_strategy: {self.negative_strategy!r} picks among a question's own wrong "
                              f"choices, so it needs negative_kind 'near-miss', not {self.negative_kind!r}",
                              field="data.negative_strategy")
        if self.negative_kind == "mined" and not self.user_file:
            raise ConfigError("data.negative_kind: 'mined' uses each question's own negatives, which only a user file "
                              "holds (`likra mine` writes one); give data.user_file", field="data.negative_kind")


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
    length_policy: str = "error"
    """A question longer than the model's context: 'error' (default, lists them), 'truncate' (cut the
    left of the context, as lm-evaluation-harness does) or 'skip' (left out, counted and reported)."""

    SECTION: ClassVar[str] = "eval"

    def __post_init__(self) -> None:
        checked(self, benchmark=nonempty, split=nonempty, limit=optional(at_least(1)), shots=at_least(0),
                checkpoints=matches(_CHECKPOINTS, "final, all, or comma-separated example counts such as 64,256"),
                weights=each(at_least(0)), batch_tokens=optional(at_least(1)), seed=at_least(0),
                length_policy=one_of(*LENGTH_POLICIES))


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    """LoRA rank (paper: 8)."""
    alpha: float = 8
    """LoRA alpha (paper: 8, so the scale alpha/r is 1)."""
    dropout: float = 0.0
    """LoRA dropout (paper: 0)."""
    target_modules: tuple[str, ...] | None = None
    """Module names to adapt; None picks the MLP projections of the architecture."""

    SECTION: ClassVar[str] = "lora"

    def __post_init__(self) -> None:
        checked(self, r=at_least(1), alpha=above(0), dropout=in_range(0, 1), target_modules=optional(each(nonempty)))


OBJECTIVES = ("nll", "unlikelihood", "dpo", "simpo", "orpo", "kto", "infonca")
"""The training objectives (likra.training.objectives): nll trains the pos and neg heads separately (Likra); the
others train one head from both positives and negatives."""


@dataclass(frozen=True)
class ObjectiveConfig:
    name: str = "nll"
    """The loss: nll (each head on its own answers: Likra), unlikelihood, dpo, simpo, orpo, kto, infonca."""
    beta: float | None = None
    """Temperature of the preference objectives (dpo, simpo, orpo, kto, infonca); None: the objective's
    default (TRL's)."""
    gamma: float | None = None
    """SimPO's target reward margin gamma (TRL's simpo_gamma; the loss uses gamma / beta); None: 0.5."""
    alpha: float | None = None
    """Weight of unlikelihood's term on the negatives; None: 1."""

    SECTION: ClassVar[str] = "train.objective"

    def __post_init__(self) -> None:
        checked(self, name=one_of(*OBJECTIVES), beta=optional(above(0)), gamma=optional(at_least(0)),
                alpha=optional(at_least(0)))

    def params(self) -> dict[str, float]:
        """The hyper-parameters that were set, for `make_objective`."""
        return {k: v for k, v in (("beta", self.beta), ("gamma", self.gamma), ("alpha", self.alpha)) if v is not None}

    @property
    def single_head(self) -> bool:
        """Whether the objective trains one head on positives and negatives together (all but nll)."""
        return self.name != "nll"


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-4
    """AdamW learning rate, constant (paper: 1e-4; the authors used 1e-3 for Llama-3.2-3B)."""
    batch_size: int = 8
    """Examples per optimiser step (paper: 8; the authors' code: 32)."""
    epochs: int = 1
    """Passes over the pairs (paper: 1)."""
    grad_clip: float = 1.0
    """Max gradient norm; 0 = no clipping."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    seed: int = 0
    """Seed of the data order."""
    curve: bool = True
    """Save the head at every power of two of examples seen (a learning curve from one run)."""
    state_every: int = 20
    """Optimiser steps between resume states (also written at every checkpoint)."""
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    """The loss ([train.objective] in a config file); nll by default, the paper's."""
    pack_tokens: int = 4096
    """Pack a step's examples into rows of about this many tokens, without padding (each example
    attends only to itself); 0 = classic padded batches. Same loss either way, less wasted compute.
    Attention runs per example (segment_attention), so long rows cost no quadratic attention; a
    batch of 32 ARC examples (~1150 tokens) in one row trained 2.2x faster on CPU than in two
    1024-token rows, which padded 42% of positions."""

    SECTION: ClassVar[str] = "train"

    def __post_init__(self) -> None:
        checked(self, lr=above(0), batch_size=at_least(1), epochs=at_least(1), grad_clip=at_least(0),
                weight_decay=at_least(0), seed=at_least(0), state_every=at_least(1), pack_tokens=at_least(0))


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
    heads: tuple[str, ...] = HEAD_NAMES
    """Heads to train: ('pos', 'neg'), ('neg',) = Base-Likra, ('pos',) = SFT."""

    SECTION: ClassVar[str] = "run"

    def __post_init__(self) -> None:
        unique = lambda v: None if len(set(v)) == len(v) else "must not repeat a head"  # noqa: E731
        checked(self, heads=lambda v: each(one_of(*HEAD_NAMES))(v) or unique(v))
        if self.train.objective.single_head:
            if self.heads == ("neg",):
                raise ConfigError(f"run.heads: objective {self.train.objective.name!r} trains one head "
                                  "from positives and negatives together; negatives-only applies to nll (Base-Likra)",
                                  field="run.heads")
            object.__setattr__(self, "heads", ("pos",))  # the one trained head is stored as 'pos'


def _weight_grid(step: float = 0.05, top: float = 1.5) -> tuple[float, ...]:
    return tuple(round(i * step, 10) for i in range(int(round(top / step)) + 1))


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment of the paper's analysis: the same runs for every seed, one model loaded once."""

    model: str = "smollm2-135m"
    """Base model (a named model, folder, .gguf file or hub id)."""
    benchmark: str = "arc"
    """Benchmark the heads train on (its evaluation split's questions are removed by id and text)."""
    train_split: str = "all"
    """Split of `benchmark` to train on."""
    eval_benchmark: str = "arc_challenge"
    """Benchmark evaluated on."""
    eval_split: str = "test"
    """Split evaluated."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """One run per seed (training order, sampling and negatives); intervals are across seeds."""
    n_train: int | None = None
    """Training questions per head (None: the whole training set, as the paper)."""
    limit: int | None = 500
    """Evaluate a fixed seeded subset of this many test questions, the same for every run (None: all)."""
    shots: int = 0
    """Few-shot examples before each evaluated question."""
    eval_seed: int = 1234
    """Seed of the evaluated subset and the few-shot draw (the same for every run)."""
    lr: float = 1e-4
    """Constant learning rate (paper: 1e-4)."""
    batch_size: int = 8
    """Examples per optimiser step (paper: 8)."""
    weights: tuple[float, ...] = _weight_grid()
    """Negative-head weights w for the `weights` sweep (default 0 to 1.5 in steps of 0.05)."""
    at: tuple[int, ...] = ()
    """Checkpoints (examples seen) for the `weights` sweep; empty: 64, 256 and the final one."""
    negative_kinds: tuple[str, ...] = ("near-miss", "hardest", "easiest", "irrelevant", "unrelated")
    """Negative heads the `negatives` experiment trains: near-miss (random wrong choice), its hardest and
    easiest variants by the base model's score, irrelevant and unrelated answers."""
    unrelated_benchmark: str = "hellaswag"
    """Source of unrelated answers (`negatives` and `mass`)."""
    objectives: tuple[str, ...] = OBJECTIVES[1:]
    """Single-head objectives the `objectives` experiment trains beside Likra (each on (gold, wrong) per
    question of near-miss kind, or on all of a question's choices for infonca)."""
    beta: float | None = None
    """Temperature of the preference objectives in `objectives` (None: each one's default, TRL's)."""
    norm: str = "char"
    """Normalisation of each log-likelihood in plots and summaries: char (lm-eval acc_norm) or none (acc)."""
    device: str = "auto"
    """Device ('auto', 'cpu', 'cuda', ...)."""
    dtype: str = "auto"
    """Model dtype ('auto': float32 on CPU, bfloat16 on CUDA)."""
    data_root: str | None = None
    """Benchmark data folder."""
    finished_only: bool = False
    """Use only the runs already trained, scored (and mined) with these settings: start no new work, and
    list each part left out in the record's "skipped" (for reading a long experiment while it runs)."""
    keep_from: str | None = None
    """An earlier record of the same experiment and settings (NAME.json): the seeds and series it holds
    that the runs in the folder do not are kept in the new record (experiments/merge.py)."""
    own_runs_only: bool = False
    """Train and score only the experiment's own runs (the negative-only heads of `negatives`, the one-head
    runs of `objectives`), not the curve's run they pair with, and write no record: they can run beside
    `experiment curve` on another device or core. A rerun without it pairs them and writes the record."""

    SECTION: ClassVar[str] = "experiment"

    def __post_init__(self) -> None:
        unique = lambda v: None if len(set(v)) == len(v) else "must not repeat a value"  # noqa: E731
        checked(self, model=nonempty, benchmark=nonempty, train_split=nonempty, eval_benchmark=nonempty,
                eval_split=nonempty, seeds=lambda v: each(at_least(0))(v) or unique(v), n_train=optional(at_least(1)),
                limit=optional(at_least(1)), shots=at_least(0), eval_seed=at_least(0), lr=above(0),
                batch_size=at_least(1), weights=lambda v: each(at_least(0))(v) or unique(v),
                at=lambda v: None if not v else each(at_least(1))(v),
                negative_kinds=lambda v: each(one_of(*NEGATIVE_KINDS, *NEAR_MISS_STRATEGIES[1:]))(v) or unique(v),
                unrelated_benchmark=nonempty, norm=one_of("char", "none"), keep_from=optional(nonempty),
                objectives=lambda v: each(one_of(*OBJECTIVES[1:]))(v) or unique(v), beta=optional(above(0)),
                device=matches(_DEVICE, "auto, cpu, mps, cuda or cuda:N"),
                dtype=one_of("auto", "float32", "bfloat16", "float16"))
        if self.own_runs_only and (self.finished_only or self.keep_from):
            other = "finished_only (no new work)" if self.finished_only else "keep_from (a record grown)"
            raise ConfigError(f"experiment.own_runs_only trains runs and writes no record: it does not go with "
                              f"experiment.{other}", field="experiment.own_runs_only")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A .toml or .json config file as nested dicts; anything else is a ConfigError naming the file."""
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise ConfigError(f"{path}: config files are .toml or .json, not {path.suffix or 'a file without suffix'!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config file ({e})") from e
    try:
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {e}") from e
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file holds sections ([model], [data], ...), not a {type(values).__name__}")
    return values


def from_dict(cls, values: dict[str, Any], where: str = "config", section: str = ""):
    """Build dataclass `cls` from nested dicts. Unknown keys, sections of the wrong shape and values of
    the wrong type or range are ConfigErrors that say where (`run.toml: data.n_train: ...`)."""
    name = section or getattr(cls, "SECTION", cls.__name__)
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: [{name}] must be a section (a table of settings), got {values!r}")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{where}: [{name}] has unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    kwargs, default = {}, cls()
    for key, value in values.items():
        current = getattr(default, key)
        if is_dataclass(current):
            kwargs[key] = from_dict(type(current), value, where, key)
        else:
            kwargs[key] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if str(e).startswith(f"{where}: "):
            raise
        raise ConfigError(f"{where}: {e}", field=e.field) from e


def override(obj, **changes):
    """dataclasses.replace, ignoring None (a flag that was not given)."""
    return replace(obj, **{k: v for k, v in changes.items() if v is not None})
