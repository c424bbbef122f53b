"""One tokenization of (context, continuation) for training and scoring alike.

Following lm-evaluation-harness (`_encode_pair`): trailing spaces of the context move to the
continuation, the whole text is tokenized together, and the continuation's tokens are what follows
the context's own tokens. Training and scoring both call `encode_pair`, so a head is trained on
exactly the token sequences it is later scored on.
"""

from __future__ import annotations

from typing import Sequence


def encode_pair(tokenizer, prefix_ids: Sequence[int], context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of the context (model prefix such as BOS included) and of the continuation."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    cont = whole[len(ctx):]
    ctx = list(prefix_ids) + ctx
    if not ctx:  # nothing to condition on: like lm-eval, condition on an end/begin token
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ctx = [bos]
    if not cont:
        raise ValueError(f"continuation {continuation!r} encodes to no tokens after context {context[-40:]!r}")
    return ctx, cont
