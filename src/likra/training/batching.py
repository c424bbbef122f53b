"""How a step's examples become tensors: the checkpoint schedule, the example order, the packed or
padded layout, and each answer token's log-probability with the example it belongs to (what every
objective is computed from)."""

from __future__ import annotations

import random

import torch

from likra.ops.lm_head import last_hidden, output_head, selected_log_probs
from likra.ops.masks import PAD, model_masks
from likra.ops.segment_attention import segment_attention


def batch_schedule(n: int, batch_size: int, curve: bool) -> list[int]:
    """Batch sizes covering n examples; with `curve`, no batch crosses a power of two."""
    sizes, seen = [], 0
    while seen < n:
        size = min(batch_size, n - seen)
        if curve:
            boundary = 1 << seen.bit_length()  # the next power of two above `seen`
            size = min(size, boundary - seen)
        sizes.append(size)
        seen += size
    return sizes


def is_checkpoint(seen: int, total: int, curve: bool) -> bool:
    return seen == total or (curve and seen & (seen - 1) == 0)


def example_order(n: int, epochs: int, seed: int) -> list[int]:
    order = []
    for e in range(epochs):
        idx = list(range(n))
        random.Random(seed * 1000 + e).shuffle(idx)
        order.extend(idx)
    return order


def padded(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """One example per row, right-padded: the classic layout."""
    length = max(len(c) + len(a) for c, a in encoded)
    ids, mask, targets = [], [], []
    for ctx, ans in encoded:
        seq = ctx + ans
        pad = length - len(seq)
        ids.append(seq + [pad_id] * pad)
        mask.append([1] * len(seq) + [0] * pad)
        targets.append([-100] * len(ctx) + ans + [-100] * pad)
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "targets": torch.tensor(targets)}


def packed(encoded: list[tuple[list[int], list[int]]], pad_id: int, row_tokens: int) -> dict[str, torch.Tensor]:
    """Examples packed into as few rows as `row_tokens` allows, balanced so the rows are of nearly
    equal length (the shorter rows' padding is the only waste): longest example first, each into
    the emptiest row. Rows may run a little over `row_tokens`; no example is ever split."""
    sizes = [len(c) + len(a) for c, a in encoded]
    n_rows = max(1, -(-sum(sizes) // max(row_tokens, max(sizes))))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    fill = [0] * n_rows
    for i in sorted(range(len(encoded)), key=lambda i: -sizes[i]):
        r = min(range(n_rows), key=fill.__getitem__)
        rows[r].append(i)
        fill[r] += sizes[i]
    for members in rows:
        members.sort()  # keep the step's example order inside a row (readable, deterministic)
    length = max(fill)
    ids, pos, seg, targets = [], [], [], []
    for members in rows:
        row = {"ids": [], "pos": [], "seg": [], "tgt": []}
        for i in members:
            ctx, ans = encoded[i]
            row["ids"] += ctx + ans
            row["pos"] += list(range(len(ctx) + len(ans)))
            row["seg"] += [i] * (len(ctx) + len(ans))
            row["tgt"] += [-100] * len(ctx) + ans
        pad = length - len(row["ids"])
        ids.append(row["ids"] + [pad_id] * pad)
        pos.append(row["pos"] + [0] * pad)
        seg.append(row["seg"] + [PAD] * pad)
        targets.append(row["tgt"] + [-100] * pad)
    return {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos), "segment": torch.tensor(seg),
            "targets": torch.tensor(targets)}


def answer_token_logps(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """log p of every answer token under the model's active adapter, and the index of the example it
    belongs to (its packed segment, or its row when padded); logits only at the positions predicting
    answer tokens."""
    hf = model.get_base_model() if hasattr(model, "peft_config") else model
    decoder, lm_head, softcap = output_head(hf)
    if "segment" in batch:  # packed rows: a block-diagonal mask and per-example positions
        mask = model_masks(hf.config, batch["segment"], batch["position_ids"], hf.dtype)
        with segment_attention(hf, batch["segment"]):  # per-example causal attention where it is exact
            out = decoder(input_ids=batch["input_ids"], attention_mask=mask, position_ids=batch["position_ids"],
                          use_cache=False)
    else:
        out = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
    hidden = last_hidden(out)
    targets = batch["targets"][:, 1:]
    rows, cols = (targets != -100).nonzero(as_tuple=True)
    lp, _ = selected_log_probs(lm_head, softcap, hidden[rows, cols], targets[rows, cols], greedy=False)
    example = batch["segment"][rows, cols + 1] if "segment" in batch else rows
    return lp, example


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean negative log-likelihood of answer tokens (the `nll` objective on one batch)."""
    return -answer_token_logps(model, batch)[0].mean()
