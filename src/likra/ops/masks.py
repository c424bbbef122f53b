"""Attention masks for packed rows: several sequences (or branches of one) share a row, each
attending only to itself and to a shared trunk. Used by the scoring engine and by training.

Each token carries a segment id: TRUNK (-1) tokens are seen by everyone, PAD (-2) by nobody real,
any other id only by tokens of the same id. Position ids restart per sequence, so a packed token
sees exactly what it would see alone.
"""

from __future__ import annotations

import torch

TRUNK, PAD = -1, -2


def segment_mask(segment: torch.Tensor, position_ids: torch.Tensor, sliding_window: int | None = None) -> torch.Tensor:
    """Boolean [B, 1, L, L]: query q may attend key k."""
    length = segment.shape[1]
    idx = torch.arange(length, device=segment.device)
    causal = idx[None, :, None] >= idx[None, None, :]
    sq, sk = segment[:, :, None], segment[:, None, :]
    # a pad query sees the trunk and other pads so its softmax row is never empty; real queries never see pads
    allowed = causal & ((sk == TRUNK) | (sk == sq))
    if sliding_window is not None:
        allowed &= (position_ids[:, :, None] - position_ids[:, None, :]) < sliding_window
    return allowed[:, None, :, :]


def model_masks(config, segment: torch.Tensor, position_ids: torch.Tensor, dtype: torch.dtype):
    """The attention_mask argument a transformers model takes for these packed rows.

    SDPA takes booleans; eager attention adds the mask, so it gets 0 / -inf-like floats. Models with
    per-layer attention types (Gemma 3, Qwen 2) take one mask per type, sliding ones windowed.
    """
    use_bool = getattr(config, "_attn_implementation", "eager") == "sdpa"

    def build(window):
        allowed = segment_mask(segment, position_ids, window)
        if use_bool:
            return allowed
        return torch.zeros(allowed.shape, dtype=dtype,
                           device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)

    layer_types = sorted(set(getattr(config, "layer_types", None) or []))
    if not layer_types:
        return build(None)
    window = getattr(config, "sliding_window", None)
    return {t: build(window if "sliding" in t else None) for t in layer_types}
