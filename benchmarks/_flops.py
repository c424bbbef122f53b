"""Arithmetic accounting shared by the benchmarks: parameters, and the tokens a job really needs.

The issue counts 2 x params FLOPs per token actually needed to score (forward) and uses that over
wall time against the device's dense peak. "Needed" means likra's own minimum: each question's
shared prefix once per head plus each choice's remainder (what `pack_question` lays out), never
lm-eval's repeated contexts or padding.
"""

from __future__ import annotations

from typing import Sequence


def param_count(model) -> int:
    """Distinct parameters of the model (a tied embedding / LM head counts once; LoRA included)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def needed_tokens(loaded, questions: Sequence) -> int:
    """Tokens one head must run over to score `questions`: shared prefix once + each choice's rest."""
    from likra.scoring.packing import pack_question
    from likra.ops.tokenize import encode_pair

    return sum(len(pack_question(i, [encode_pair(loaded.tokenizer, loaded.prefix_token_ids, c, a)
                                     for c, a in q.requests()]).input_ids) for i, q in enumerate(questions))


def tflops(n_params: int, tokens: int, seconds: float, flops_per_param: int = 2) -> float:
    """Achieved TFLOP/s counting `flops_per_param` x params per token (2: forward only)."""
    return flops_per_param * n_params * tokens / seconds / 1e12
