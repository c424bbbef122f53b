"""The CLI's shared argument helpers: flag types, the config-field -> flag map, common options."""

from __future__ import annotations

import argparse
import math
from dataclasses import fields

from likra.errors import ConfigError

# config field (as in a config file) -> the flag that sets it, so an out-of-range value names the flag
FLAGS = {"data.n_train": "--n-train", "data.seed": "--seed", "data.negative_kind": "--negatives",
         "data.negative_strategy": "--near-miss", "data.length_policy": "--length-policy",
         "train.lr": "--lr", "train.batch_size": "--batch-size", "train.epochs": "--epochs",
         "train.grad_clip": "--grad-clip", "train.objective.name": "--objective", "train.objective.beta": "--beta",
         "train.objective.gamma": "--gamma", "train.objective.alpha": "--alpha", "train.seed": "--seed",
         "lora.r": "--lora-r", "lora.alpha": "--lora-alpha",
         "lora.dropout": "--lora-dropout", "lora.target_modules": "--target-modules", "model.device": "--device",
         "model.dtype": "--dtype", "model.spec": "--model", "eval.limit": "--limit", "eval.shots": "--shots",
         "eval.checkpoints": "--checkpoints", "eval.weights": "--weights", "eval.batch_tokens": "--batch-tokens",
         "eval.seed": "--seed", "eval.length_policy": "--length-policy", "eval.split": "--split",
         "eval.benchmark": "--benchmark"}


def default(cls, name: str):
    """A config field's default, for --help: the text and the code cannot disagree."""
    return next(f.default for f in fields(cls) if f.name == name)


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def weight_list(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.5,1, got {text!r}")
    return tuple(finite_float(p) for p in parts)


def flag_errors(build, flags: dict[str, str] = FLAGS):
    """Build a config from flags; a ConfigError names the flag that set the bad value."""
    try:
        return build()
    except ConfigError as e:
        flag = flags.get(e.field or "")
        raise ConfigError(f"{flag}: {e}" if flag else str(e), field=e.field) from e


def common_options(top: bool) -> argparse.ArgumentParser:
    """--quiet, --verbose and --debug, accepted before and after the subcommand (SUPPRESS keeps the top-level value)."""
    p = argparse.ArgumentParser(add_help=False)
    kw = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument("--quiet", action="store_true", help="no progress bars (messages stay)", **kw)
    p.add_argument("--verbose", action="store_true", help="debug messages too (logger 'likra')", **kw)
    p.add_argument("--debug", action="store_true", help="show the traceback of every error, expected or not", **kw)
    return p


def _model_args(p: argparse.ArgumentParser, default_spec: str | None = "smollm2-135m") -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help=f"named model (likra models), transformers folder, .gguf file or hub id"
                   f" (default: {default_spec or 'the base model the run was trained on'})")
    g.add_argument("--device", default=None, help="auto (default: cuda if available, else cpu), cpu, cuda, cuda:N")
    g.add_argument("--dtype", default=None, help="auto (default: float32 on CPU, bfloat16 on CUDA), float32, bfloat16, "
                                                 "float16")
    g.add_argument("--cache-dir", default=None, help="converted-model cache (default $LIKRA_CACHE or ~/.cache/likra)")
