"""The naive reference: one full forward per (context, choice, head), full-vocabulary logits."""

from __future__ import annotations

import torch

from likra.ops.tokenize import encode_pair


def naive_logprob(model, tokenizer, prefix_ids, context: str, continuation: str, head: str) -> float:
    ctx, cont = encode_pair(tokenizer, prefix_ids, context, continuation)
    ids = torch.tensor([ctx + cont])
    is_peft = hasattr(model, "peft_config")
    with torch.inference_mode():
        if is_peft and head == "base":
            with model.disable_adapter():
                logits = model(input_ids=ids).logits
        else:
            if is_peft:
                model.set_adapter(head)
            logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[0].float(), -1)
    return sum(logp[len(ctx) + j - 1, t].item() for j, t in enumerate(cont))
