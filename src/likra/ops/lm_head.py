"""Logits only where they are needed: the output head applied to selected hidden states.

Training (answer tokens) and scoring (continuation tokens) both use this instead of the model's own
forward, which would compute full-vocabulary logits at every position (Gemma: 262k per token).
"""

from __future__ import annotations

import torch


def output_head(hf_model):
    """(decoder, lm_head, softcap) of a transformers causal LM."""
    softcap = getattr(hf_model.config, "final_logit_softcapping", None) or None
    return hf_model.get_decoder(), hf_model.get_output_embeddings(), softcap


def selected_log_probs(lm_head, softcap, hidden_rows: torch.Tensor, targets: torch.Tensor,
                       chunk: int = 1024, greedy: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(target) for each selected hidden row, and whether the target is the argmax (None
    with `greedy=False`: training skips the argmax over the vocabulary).

    Log-softmax runs in float32 in chunks of rows, so memory stays bounded for big vocabularies.
    Differentiable: training calls it with gradients enabled.
    """
    lps, hits = [], []
    for s in range(0, hidden_rows.shape[0], chunk):
        logits = lm_head(hidden_rows[s:s + chunk]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        logp = torch.log_softmax(logits, dim=-1)
        t = targets[s:s + chunk]
        lps.append(logp.gather(1, t[:, None])[:, 0])
        if greedy:
            hits.append(logp.argmax(-1) == t)
    return torch.cat(lps), (torch.cat(hits) if greedy else None)


def last_hidden(decoder_output) -> torch.Tensor:
    return decoder_output.last_hidden_state if hasattr(decoder_output, "last_hidden_state") else decoder_output[0]
