"""Training: a head learns what it is shown; checkpoints at powers of two; resume is exact."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from likra.data.negatives import TrainingPair
from likra.models.heads import attach_heads, load_head, read_meta
from likra.training.trainer import HeadTrainer, TrainConfig, batch_schedule, is_checkpoint
from likra.testing import build_model
from tests.scoring.naive import naive_logprob

PAIRS = [
    TrainingPair("Question: Which gas do plants take in?\nAnswer:", " carbon dioxide", True, "positive", "q1"),
    TrainingPair("Question: What is the boiling point of water?\nAnswer:", " 100 degrees", True, "positive", "q2"),
    TrainingPair("Question: What gives us light?\nAnswer:", " the Sun", True, "positive", "q3"),
    TrainingPair("Question: Where did the dog run?\nAnswer:", " in the park", True, "positive", "q4"),
] * 3


def test_batch_schedule_hits_powers_of_two():
    sizes = batch_schedule(100, 8, curve=True)
    seen, points = 0, []
    for s in sizes:
        seen += s
        if is_checkpoint(seen, 100, True):
            points.append(seen)
    assert points == [1, 2, 4, 8, 16, 32, 64, 100]
    assert max(sizes) == 8 and sum(sizes) == 100
    assert batch_schedule(20, 8, curve=False) == [8, 8, 4]


def _mean_lp(model, tok, head, pairs):
    return sum(naive_logprob(model, tok, [], p.context, p.answer, head) for p in pairs) / len(pairs)


def test_head_learns_and_other_head_untouched(tokenizer, tmp_path):
    model = attach_heads(build_model("llama"))
    before = {h: _mean_lp(model, tokenizer, h, PAIRS[:4]) for h in ("base", "pos", "neg")}
    neg_before = {n: p.clone() for n, p in model.named_parameters() if ".neg." in n}
    trainer = HeadTrainer(model, tokenizer, [], "pos", tmp_path / "pos", TrainConfig(lr=1e-2, batch_size=4),
                          progress=False)
    result = trainer.train(PAIRS)
    after = _mean_lp(model, tokenizer, "pos", PAIRS[:4])
    assert result.finished and result.examples_seen == len(PAIRS)
    assert after > before["pos"] + 1.0, (before, after)  # the gold answers became much more likely
    assert [step for step, _, _ in result.losses] == list(range(1, result.steps + 1))
    assert _mean_lp(model, tokenizer, "base", PAIRS[:4]) == pytest.approx(before["base"], abs=1e-5)
    for n, p in model.named_parameters():
        if ".neg." in n:
            assert torch.equal(p, neg_before[n])
    names = sorted(p.name for p in (tmp_path / "pos").glob("checkpoint-*"))
    assert names == ["checkpoint-000001", "checkpoint-000002", "checkpoint-000004", "checkpoint-000008",
                     "checkpoint-000012"]
    assert read_meta(tmp_path / "pos" / "checkpoint-000012")["examples_seen"] == 12


def test_saved_head_reloads_to_same_scores(tokenizer, tmp_path):
    model = attach_heads(build_model("llama"))
    HeadTrainer(model, tokenizer, [], "neg", tmp_path, TrainConfig(lr=1e-2), progress=False).train(PAIRS)
    trained = _mean_lp(model, tokenizer, "neg", PAIRS[:4])
    fresh = attach_heads(build_model("llama"))
    load_head(fresh, "neg", tmp_path / "checkpoint-000012")
    assert _mean_lp(fresh, tokenizer, "neg", PAIRS[:4]) == pytest.approx(trained, abs=1e-5)


def test_resume_gives_same_adapters(tokenizer, tmp_path):
    cfg = TrainConfig(lr=1e-2, batch_size=2, state_every=1)
    full_model = attach_heads(build_model("llama"))
    HeadTrainer(full_model, tokenizer, [], "pos", tmp_path / "full", cfg, progress=False).train(PAIRS)

    # interrupted after 4 steps, then a fresh process (new model object) resumes from disk
    m1 = attach_heads(build_model("llama"))
    partial = HeadTrainer(m1, tokenizer, [], "pos", tmp_path / "resumed", cfg, progress=False).train(PAIRS, max_steps=4)
    assert not partial.finished and partial.steps == 4
    m2 = attach_heads(build_model("llama"))
    resumed = HeadTrainer(m2, tokenizer, [], "pos", tmp_path / "resumed", cfg, progress=False).train(PAIRS)
    assert resumed.finished
    a = load_file(str(tmp_path / "full" / "checkpoint-000012" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "checkpoint-000012" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-7)


def test_the_state_keeps_this_process_pace_never_across_a_stop(tokenizer, tmp_path):
    import json

    cfg = TrainConfig(lr=1e-2, batch_size=2, state_every=1, curve=False)
    state = tmp_path / "train_state" / "state.json"
    HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "pos", tmp_path, cfg,
                progress=False).train(PAIRS, max_steps=2)
    first = json.loads(state.read_text())["pace"]
    assert [seen for seen, _ in first] == [0, 2, 4]
    HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "pos", tmp_path, cfg, progress=False).train(PAIRS)
    pace = json.loads(state.read_text())["pace"]
    assert pace[0][0] == 4 and pace[0][1] >= first[-1][1]  # starts where this process resumed
    assert [seen for seen, _ in pace][-3:] == [8, 10, 12] and len(pace) <= 8  # the last few saves only
    assert all(b[1] >= a[1] for a, b in zip(pace, pace[1:]))


def test_resume_refuses_other_data(tokenizer, tmp_path):
    model = attach_heads(build_model("llama"))
    HeadTrainer(model, tokenizer, [], "pos", tmp_path, TrainConfig(), progress=False).train(PAIRS, max_steps=1)
    with pytest.raises(ValueError, match="other data or settings"):
        HeadTrainer(model, tokenizer, [], "pos", tmp_path, TrainConfig(), progress=False).train(PAIRS[:5])


def test_both_heads_adapt_the_same_mlp_modules():
    model = attach_heads(build_model("llama"))
    for head in ("pos", "neg"):
        adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters()
                   if f"lora_A.{head}." in n}
        assert adapted == {"gate_proj", "up_proj", "down_proj"}, (head, adapted)
        assert all(p.dtype == torch.float32 for n, p in model.named_parameters() if f".{head}." in n)


def test_pos_head_raises_gold_and_neg_head_raises_wrong_answers(tokenizer, tmp_path):
    """The paper's two heads: trained on balanced pairs from the same questions, each moves its own answers up."""
    from likra.data.negatives import negative_pairs, positive_pairs
    from likra.data.questions import Question

    qs = [Question(f"q{i}", "toy", f"Question: {q}\nAnswer:", choices, 0) for i, (q, choices) in enumerate([
        ("Which gas do plants take in?", ("carbon dioxide", "oxygen")),
        ("What is the boiling point of water?", ("100 degrees", "0 degrees")),
        ("What gives us light?", ("the Sun", "a rock")),
        ("Where did the dog run?", ("in the park", "on the mat")),
    ])]
    pos, neg = positive_pairs(qs) * 3, negative_pairs(qs, "near-miss", seed=0) * 3
    assert all(p.answer == " " + q.choices[0] for p, q in zip(pos, qs * 3))
    assert all(n.answer == " " + q.choices[1] for n, q in zip(neg, qs * 3))
    model = attach_heads(build_model("llama"))
    gold = [(q.context, " " + q.choices[0]) for q in qs]
    wrong = [(q.context, " " + q.choices[1]) for q in qs]

    def mean(head, items):
        return sum(naive_logprob(model, tokenizer, [], c, a, head) for c, a in items) / len(items)

    base_gold, base_wrong = mean("base", gold), mean("base", wrong)
    cfg = TrainConfig(lr=1e-2, batch_size=4)
    HeadTrainer(model, tokenizer, [], "pos", tmp_path / "pos", cfg, progress=False).train(pos)
    HeadTrainer(model, tokenizer, [], "neg", tmp_path / "neg", cfg, progress=False).train(neg)
    assert mean("pos", gold) > base_gold + 1.0
    assert mean("neg", wrong) > base_wrong + 1.0
    # so Likra (L+ - L-) prefers gold on every training question
    for (c, g), (_, w) in zip(gold, wrong):
        likra_gold = naive_logprob(model, tokenizer, [], c, g, "pos") - naive_logprob(model, tokenizer, [], c, g, "neg")
        likra_wrong = (naive_logprob(model, tokenizer, [], c, w, "pos")
                       - naive_logprob(model, tokenizer, [], c, w, "neg"))
        assert likra_gold > likra_wrong


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
def test_packed_rows_give_the_same_loss_and_gradients_as_padding(tokenizer, arch):
    from likra.models.heads import make_trainable
    from likra.ops.tokenize import encode_pair
    from likra.training.batching import answer_loss
    from likra.training.batching import packed as _packed
    from likra.training.batching import padded as _padded

    model = attach_heads(build_model(arch))
    params = make_trainable(model, "pos")
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p) * 0.1)
    encoded = [encode_pair(tokenizer, [1], p.context, p.answer) for p in PAIRS[:6]]
    results = []
    for batch in (_padded(encoded, 0), _packed(encoded, 0, 1024), _packed(encoded, 0, 40)):
        model.zero_grad()
        loss = answer_loss(model, batch)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in params]))
    assert _packed(encoded, 0, 1024)["input_ids"].shape[0] == 1  # all six in one row
    assert _packed(encoded, 0, 40)["input_ids"].shape[0] > 1
    for loss, grads in results[1:]:
        assert loss == pytest.approx(results[0][0], abs=1e-5)
        for g, g0 in zip(grads, results[0][1]):
            torch.testing.assert_close(g, g0, atol=1e-5, rtol=1e-4)


def test_packing_balances_rows_and_keeps_every_example_whole():
    from likra.ops.masks import PAD
    from likra.training.batching import packed as _packed

    encoded = [([1] * (3 + i % 4), [7] * (2 + i % 3)) for i in range(13)]
    total = sum(len(c) + len(a) for c, a in encoded)
    for cap in (10**6, 40, 25):
        b = _packed(encoded, 0, cap)
        rows, length = b["input_ids"].shape
        assert rows == max(1, -(-total // cap))
        # balanced: the padding is less than one longest example per row
        assert (b["segment"] == PAD).sum() < rows * max(len(c) + len(a) for c, a in encoded)
        for i, (c, a) in enumerate(encoded):
            where = (b["segment"] == i).nonzero()
            assert len(where) == len(c) + len(a) and where[:, 0].unique().numel() == 1  # whole, in one row
            r, cols = where[0, 0], where[:, 1]
            assert b["position_ids"][r, cols].tolist() == list(range(len(c) + len(a)))
            assert b["input_ids"][r, cols].tolist() == c + a
