"""The length policy: what to do with questions longer than the model's context.

A request (context, continuation) of L tokens (context tokens, the model's prefix/BOS included, plus
continuation tokens) is scored the way lm-evaluation-harness scores it: the model reads all its tokens
but the last, and predicts each continuation token. So the model sees L - 1 tokens, and the request
is *too long* when L - 1 > max_length. A question is as long as its longest request.

Three policies, chosen by the caller (`LENGTH_POLICIES`):
- 'error' (the default): refuse, listing the questions, so no run silently scores cut prompts;
- 'truncate': keep them; the engine (EngineConfig(truncate=True)) cuts tokens from the left of the
  context exactly as lm-evaluation-harness does;
- 'skip': leave them out, counted and reported.
Stdlib only: no torch, so the CLI can validate a policy without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from likra.config import LENGTH_POLICIES
from likra.errors import ConfigError, LengthError

# config attributes that hold a model's context length, most common first; lm-eval's HFLM.max_length
# reads n_positions, max_position_embeddings and n_ctx
_CONTEXT_ATTRS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx",
                  "max_seq_len")
_LISTED = 10  # offending questions named in an error; the rest are counted


def model_max_length(hf_model) -> int | None:
    """The model's context length from its config (a model or a config may be passed); None if the
    config names none. Multimodal configs (Gemma 3) keep it in their text config."""
    config = getattr(hf_model, "config", hf_model)
    if hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for name in _CONTEXT_ATTRS:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def is_too_long(n_tokens: int, max_length: int | None) -> bool:
    """The model reads all tokens of a request but the last (it is only predicted)."""
    return max_length is not None and n_tokens - 1 > max_length


@dataclass
class LengthReport:
    """What the length policy did; `summary()` is the console line, the fields go into run records."""

    policy: str
    max_length: int | None
    """The context length checked against (None: unknown, nothing checked)."""
    too_long: list[tuple[str, int]] = field(default_factory=list)
    """(question id, tokens of its longest request) of every question over the limit."""
    skipped: int = 0
    truncated: int = 0

    def summary(self) -> str:
        if self.max_length is None:
            return "lengths: the model's context length is unknown; no length check"
        if not self.too_long:
            return f"lengths: every question fits the model's context of {self.max_length} tokens"
        longest = max(n for _, n in self.too_long)
        action = (f"left out (skipped {self.skipped})" if self.policy == "skip" else
                  f"cut from the left of the context (truncated {self.truncated})" if self.policy == "truncate"
                  else "refused")
        return (f"lengths: {len(self.too_long)} question(s) longer than the model's context of {self.max_length} "
                f"tokens (longest {longest}): {action}")


def apply_length_policy(questions: Sequence, lengths: Sequence[int], max_length: int | None,
                        policy: str = "error", training: bool = False) -> tuple[list, LengthReport]:
    """(kept questions, report). `lengths[i]` is the token count of question i's longest request
    (`ScoringEngine.lengths`). 'error' raises LengthError if any question is too long; 'skip' drops
    those; 'truncate' keeps everything (the engine must be built with truncate=True). `training`:
    the questions are training examples, which can be skipped but not truncated."""
    if policy not in LENGTH_POLICIES:
        raise ConfigError(f"length policy {policy!r}: choose one of {', '.join(LENGTH_POLICIES)}")
    if len(lengths) != len(questions):
        raise ValueError(f"{len(lengths)} lengths for {len(questions)} questions")
    long = [i for i, n in enumerate(lengths) if is_too_long(n, max_length)]
    report = LengthReport(policy, max_length, [(questions[i].id, lengths[i]) for i in long])
    if not long:
        return list(questions), report
    if policy == "error":
        raise LengthError(too_long_message(report.too_long, max_length, training=training))
    if policy == "truncate":
        report.truncated = len(long)
        return list(questions), report
    dropped = set(long)
    report.skipped = len(long)
    return [q for i, q in enumerate(questions) if i not in dropped], report


def too_long_message(too_long: Sequence[tuple[str, int]], max_length: int, training: bool = False) -> str:
    """The LengthError text: which questions, how long, the limit, and how to opt in."""
    if training:
        named = ", ".join(f"{qid} ({n} tokens)" for qid, n in too_long[:_LISTED])
        more = f" ... and {len(too_long) - _LISTED} more" if len(too_long) > _LISTED else ""
        return (f"{len(too_long)} training question(s) with an example longer than the model's context of "
                f"{max_length} tokens: {named}{more}. `--length-policy skip` leaves those questions out of both "
                "heads, counted in run.json.")
    named = ", ".join(f"{qid} ({n} tokens)" for qid, n in too_long[:_LISTED])
    more = f" ... and {len(too_long) - _LISTED} more" if len(too_long) > _LISTED else ""
    return (f"{len(too_long)} question(s) longer than the model's context of {max_length} tokens "
            f"(tokens of the longest choice: context + continuation; the model reads all but the last, "
            f"so up to {max_length + 1} fit): {named}{more}. To score them anyway: "
            "`--length-policy truncate` cuts tokens from the left of the context, as lm-evaluation-harness "
            "does (API: EngineConfig(truncate=True)); `--length-policy skip` leaves those questions out, "
            "counted and reported.")
