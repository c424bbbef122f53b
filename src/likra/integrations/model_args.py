"""The `--model_args` of lm-eval's `likra` model: parsed, converted and checked before any model loads.

lm-eval 0.4.13 hands model args to the model's constructor as keyword arguments. From a string
(`create_from_arg_string`, `utils.simple_parse_args_string`) each value is already typed by
`handle_arg_string`: 'true'/'false' -> bool, 'none' -> None, '64' -> int, '0.5' -> float, else str
(quoted values stay str). The CLI's `--model_args` may also be JSON, and Python callers pass a dict,
so every value is converted here from whatever type it arrived as. `batch_size`, `max_batch_size`
and `device` may also arrive from lm-eval's own flags (`additional_config`).
Stdlib only: imported without torch or lm-eval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from likra.errors import ConfigError

MODES = ("base", "sft", "likra", "base_likra")
RULE_OF_MODE = {"base": "base", "sft": "sft", "likra": "likra", "base_likra": "base-likra"}
"""mode -> likra's decision rule (likra.scoring.rules.RULES), which says the heads and how they combine."""
NEEDS_RUN = ("sft", "likra", "base_likra")
USES_WEIGHT = ("likra", "base_likra")
IGNORED = ("batch_size", "max_batch_size", "trust_remote_code")
"""Passed by lm-eval's own flags to every model; the engine batches by tokens (`batch_tokens`) and
loads through likra, so these are accepted and not used."""


@dataclass(frozen=True)
class LikraModelArgs:
    """What `--model likra --model_args ...` asks for."""

    mode: str = "base"
    """Which log-likelihood each request gets: base -> L_base, sft -> L_pos, likra -> L_pos - w*L_neg,
    base_likra -> L_base - w*L_neg (summed over the continuation's tokens)."""
    weight: float = 1.0
    """w, for the likra and base_likra modes."""
    run: str | None = None
    """A likra training run folder (`likra train --out`): its pos/neg heads. Needed by every mode but base."""
    checkpoint: str = "final"
    """Which of the run's checkpoints: 'final' (end of training) or examples seen, e.g. '64'."""
    pretrained: str | None = None
    """The base model: a named likra model (smollm2-135m ...), a folder, a .gguf file or a hub id.
    Optional with `run`, which records its base model."""
    device: str = "auto"
    """Torch device ('auto': CUDA, then MPS, then CPU)."""
    dtype: str = "auto"
    """auto (bfloat16 on CUDA, float32 elsewhere), float32, bfloat16 or float16."""
    batch_tokens: int | None = None
    """Padded tokens per forward pass; None: the device's default (likra.scoring.engine)."""
    cache_dir: str | None = None
    """likra's cache (converted GGUF models); None: $LIKRA_CACHE or ~/.cache/likra."""

    @property
    def rule(self) -> str:
        return RULE_OF_MODE[self.mode]


def parse_model_args(kwargs: dict[str, Any]) -> LikraModelArgs:
    """Convert and check lm-eval's keyword arguments; every mistake is a ConfigError naming the arg."""
    known = {f.name for f in fields(LikraModelArgs)}
    unknown = sorted(set(kwargs) - known - set(IGNORED))
    if unknown:
        raise ConfigError(f"likra lm-eval model: unknown model arg(s) {unknown}; known: {', '.join(sorted(known))}")
    given = {k: v for k, v in kwargs.items() if k in known and v is not None}
    mode = _mode(given.get("mode", "base"))
    out = LikraModelArgs(
        mode=mode,
        weight=_weight(given["weight"], mode) if "weight" in given else 1.0,
        run=_text("run", given["run"]) if "run" in given else None,
        checkpoint=_checkpoint(given.get("checkpoint", "final")),
        pretrained=_text("pretrained", given["pretrained"]) if "pretrained" in given else None,
        device=_text("device", given.get("device", "auto")),
        dtype=_text("dtype", given.get("dtype", "auto")),
        batch_tokens=_positive_int("batch_tokens", given["batch_tokens"]) if "batch_tokens" in given else None,
        cache_dir=_text("cache_dir", given["cache_dir"]) if "cache_dir" in given else None,
    )
    _check_combination(out, given)
    return out


def _mode(value: Any) -> str:
    mode = str(value).strip().replace("-", "_")  # likra's rule is spelled base-likra; accept both
    if mode not in MODES:
        raise ConfigError(f"likra lm-eval model: mode={value!r}; use one of {', '.join(MODES)}", field="mode")
    return mode


def _weight(value: Any, mode: str) -> float:
    if mode not in USES_WEIGHT:
        # refused rather than ignored: a weight on mode=sft most likely means mode=likra was meant
        raise ConfigError(f"likra lm-eval model: weight applies to mode={' or '.join(USES_WEIGHT)}, not mode={mode}",
                          field="weight")
    try:
        if isinstance(value, bool):
            raise ValueError
        w = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"likra lm-eval model: weight={value!r} is not a number", field="weight") from None
    if not math.isfinite(w) or w < 0:
        raise ConfigError(f"likra lm-eval model: weight={value!r} must be a finite number >= 0", field="weight")
    return w


def _checkpoint(value: Any) -> str:
    text = str(value).strip()
    if text == "final" or (text.isdigit() and not isinstance(value, bool) and int(text) > 0):
        return text
    raise ConfigError(f"likra lm-eval model: checkpoint={value!r}; use 'final' or examples seen, e.g. checkpoint=64",
                      field="checkpoint")


def _positive_int(name: str, value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ConfigError(f"likra lm-eval model: {name}={value!r} must be a whole number >= 1", field=name)
    return int(text)


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool) or not str(value).strip():
        raise ConfigError(f"likra lm-eval model: {name}={value!r} is not a usable value", field=name)
    return str(value).strip()


def _check_combination(args: LikraModelArgs, given: dict[str, Any]) -> None:
    if args.run is None:
        if args.mode in NEEDS_RUN:
            raise ConfigError(f"likra lm-eval model: mode={args.mode} scores a training run's heads; add "
                              "run=RUN_DIR to --model_args (the folder `likra train --out` wrote)", field="run")
        if "checkpoint" in given:
            raise ConfigError("likra lm-eval model: checkpoint= selects a checkpoint of run=, which is not given",
                              field="checkpoint")
        if args.pretrained is None:
            raise ConfigError("likra lm-eval model: give pretrained=MODEL (a named likra model, a folder, a .gguf "
                              "file or a hub id) or run=RUN_DIR", field="pretrained")
