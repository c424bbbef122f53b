"""Per-example attention for packed rows equals the block-diagonal mask, and is really used."""

from __future__ import annotations

import pytest
import torch

from likra.ops.masks import PAD, segment_mask
from likra.ops.segment_attention import segment_attention, segment_bounds, segment_sdpa
from likra.testing import build_model


def test_segment_bounds_skip_padding():
    seg = torch.tensor([[0, 0, 0, 1, 1, 2, PAD, PAD], [5, 5, 5, 5, 5, 5, 5, 5]])
    assert segment_bounds(seg) == [[(0, 3), (3, 5), (5, 6)], [(0, 8)]]


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_equals_masked_sdpa_values_and_gradients(kv_heads):
    torch.manual_seed(0)
    seg = torch.tensor([[0] * 5 + [1] * 3 + [2] * 6 + [PAD] * 2])
    pos = torch.tensor([list(range(5)) + list(range(3)) + list(range(6)) + [0, 0]])
    q = torch.randn(1, 4, 16, 8, requires_grad=True)
    k = torch.randn(1, kv_heads, 16, 8, requires_grad=True)
    v = torch.randn(1, kv_heads, 16, 8, requires_grad=True)

    class Attn(torch.nn.Module):
        num_key_value_groups = 4 // kv_heads
        is_causal = True

    ref = torch.nn.functional.scaled_dot_product_attention(
        q, k.repeat_interleave(4 // kv_heads, 1), v.repeat_interleave(4 // kv_heads, 1),
        attn_mask=segment_mask(seg, pos)).transpose(1, 2)
    with segment_attention(torch.nn.Module(), seg):
        out, _ = segment_sdpa(Attn(), q, k, v, None)
    real = (seg != PAD)[0]
    torch.testing.assert_close(out[:, real], ref[:, real])
    (g_out,) = torch.autograd.grad(out[:, real].square().sum(), q, retain_graph=True)
    (g_ref,) = torch.autograd.grad(ref[:, real].square().sum(), q)
    torch.testing.assert_close(g_out, g_ref)


def test_model_runs_per_segment_and_is_restored(monkeypatch):
    from likra.ops import segment_attention as sa

    model = build_model("llama")
    seg = torch.tensor([[0] * 4 + [1] * 5])
    pos = torch.tensor([list(range(4)) + list(range(5))])
    ids = torch.randint(3, 100, (1, 9))
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=segment_mask(seg, pos), position_ids=pos).logits

    def refuse(*a, **k):
        raise AssertionError("fell back to the masked SDPA")

    monkeypatch.setattr(sa, "sdpa_attention_forward", refuse)
    with torch.no_grad(), segment_attention(model, seg):
        out = model(input_ids=ids, attention_mask=segment_mask(seg, pos), position_ids=pos).logits
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    assert model.config._attn_implementation == "sdpa"
