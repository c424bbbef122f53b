"""The engine's numbers equal the naive one-forward-per-(context, choice, head) computation."""

from __future__ import annotations

import pytest

from likra.data.questions import Question
from likra.models.heads import LoraSettings, attach_heads
from likra.scoring.engine import EngineConfig, ScoringEngine
from likra.testing import build_model, randomise_lora
from tests.scoring.naive import naive_logprob

QUESTIONS = [
    Question("q1", "toy", "Question: Which gas do plants take in?\nAnswer:",
             ("carbon dioxide", "oxygen", "nitrogen", "water"), 0),
    Question("q2", "toy", "The cat sat on the", ("mat.", "park.", "mat. The dog ran"), 1),
    # Winogrande-style: a context per choice, the same continuation
    Question("q3", "toy", "", ("ran in the park.", "ran in the park."), 1,
             choice_contexts=("The dog and the cat: the dog", "The dog and the cat: the cat")),
    Question("q4", "toy", "Paris is the capital of ", ("France", "the Moon"), 0),  # trailing space moves
    Question("q5", "toy", "Answer:", ("heat", "heat"), 0),  # identical choices
]


def _randomise_heads(model, seed=1):
    randomise_lora(model, seed=seed)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
@pytest.mark.parametrize("batch_tokens,cache_from", [(64, 10**6), (100000, 10**6), (100000, 1)])
def test_engine_equals_naive(tokenizer, arch, batch_tokens, cache_from):
    """Packed rows (small and large batches) and the prefix-cache path all give the naive numbers."""
    model = attach_heads(build_model(arch), LoraSettings())
    _randomise_heads(model)
    config = EngineConfig(batch_tokens=batch_tokens, cache_prefix_from=cache_from, progress=False)
    engine = ScoringEngine(model, tokenizer, [1], config)
    table = engine.score(QUESTIONS, heads=("base", "pos", "neg"), checkpoint="7")
    assert len(table) == 3 * sum(len(q.choices) for q in QUESTIONS)
    by_q = {q.id: q for q in QUESTIONS}
    for row in table:
        q = by_q[row.question_id]
        ref = naive_logprob(model, tokenizer, [1], q.context_for(row.choice), q.continuation(row.choice), row.head)
        assert row.logprob == pytest.approx(ref, abs=1e-4), (row, ref)
        assert row.checkpoint == ("-" if row.head == "base" else "7")
        assert row.gold == (row.choice == q.gold)
        assert row.n_chars == len(q.choices[row.choice])


def test_heads_give_different_scores(tokenizer):
    model = attach_heads(build_model("llama"))
    _randomise_heads(model)
    table = ScoringEngine(model, tokenizer, [], EngineConfig(progress=False)).score(QUESTIONS[:1],
                                                                                    ("base", "pos", "neg"))
    by_head = {h: [r.logprob for r in table.select(h)] for h in ("base", "pos", "neg")}
    assert by_head["base"] != by_head["pos"] != by_head["neg"]


def test_eager_attention_float_mask(tokenizer):
    model = attach_heads(build_model("gemma3", attn="eager"))
    _randomise_heads(model)
    table = ScoringEngine(model, tokenizer, [1], EngineConfig(progress=False)).score(QUESTIONS, ("base", "neg"))
    for row in table:
        q = next(q for q in QUESTIONS if q.id == row.question_id)
        ref = naive_logprob(model, tokenizer, [1], q.context_for(row.choice), q.continuation(row.choice), row.head)
        assert row.logprob == pytest.approx(ref, abs=1e-4)


def test_plain_model_without_heads(tokenizer):
    model = build_model("llama")
    table = ScoringEngine(model, tokenizer, [], EngineConfig(progress=False)).score(QUESTIONS[:2])
    assert {r.head for r in table} == {"base"}
    with pytest.raises(ValueError, match="unknown head"):
        ScoringEngine(model, tokenizer).score(QUESTIONS[:1], heads=("pos",))


def test_batch_tokens_default_follows_the_device():
    from likra.scoring.engine import DEFAULT_BATCH_TOKENS, resolve_batch_tokens

    assert resolve_batch_tokens(None, "cpu") == DEFAULT_BATCH_TOKENS["cpu"] < DEFAULT_BATCH_TOKENS["cuda"]
    assert resolve_batch_tokens(None, "cuda:0") == DEFAULT_BATCH_TOKENS["cuda"]
    assert resolve_batch_tokens(77, "cuda") == 77
