"""The length policy: token counts, the three policies, and truncation equal to lm-eval's.

The models' context is 32 tokens; lm-evaluation-harness feeds a request of context + continuation
tokens as `(ctx + cont)[-(max_length + 1):][:-1]`, and `naive_truncated` below does exactly that,
one forward per (request, head).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from likra.data.questions import Question
from likra.errors import ConfigError, LengthError
from likra.models.heads import LoraSettings, attach_heads
from likra.scoring.engine import EngineConfig, ScoringEngine
from likra.scoring.lengths import LENGTH_POLICIES, apply_length_policy, is_too_long, model_max_length
from likra.ops.tokenize import encode_pair
from likra.testing import build_model, randomise_lora
from tests.scoring.naive import naive_logprob

MAX = 32
HEADS = ("base", "pos", "neg")
LONG_CTX = ("The cat sat on the mat. The dog ran in the park. Paris is the capital of France. "
            "Question: Which gas do plants take in?\nAnswer:")  # 62 tokens with BOS

SHORT = [
    Question("s1", "toy", "Question: Which gas do plants take in?\nAnswer:", ("oxygen", "water"), 0),
    Question("s2", "toy", "The cat sat on the", ("mat.", "park."), 1),
]
LONG = [
    # choices of different token lengths: each is cut by a different amount, so the choices no
    # longer share the same prefix after truncation
    Question("l1", "toy", LONG_CTX, ("carbon dioxide", "oxygen", "nitrogen and a lot of water"), 0),
    # Winogrande-style: a context per choice, only one of them too long
    Question("l2", "toy", "", ("ran in the park.", "ran in the park."), 1,
             choice_contexts=("The dog and the cat: the dog", LONG_CTX[:-8] + " the cat")),
    Question("l3", "toy", LONG_CTX, ("heat", "heat"), 0),  # identical choices
]


def _heads_model(arch="llama"):
    model = attach_heads(build_model(arch), LoraSettings())
    model.get_base_model().config.max_position_embeddings = MAX
    return randomise_lora(model)


def _engine(model, tokenizer, **kw):
    return ScoringEngine(model, tokenizer, [1], EngineConfig(progress=False, **kw))


def naive_truncated(model, tokenizer, context, continuation, head, max_length=MAX) -> float:
    """lm-eval's loglikelihood: the model reads (ctx + cont)[-(max_length + 1):][:-1]."""
    ctx, cont = encode_pair(tokenizer, [1], context, continuation)
    inp = (ctx + cont)[-(max_length + 1):][:-1]
    ids = torch.tensor([inp])
    with torch.inference_mode():
        if hasattr(model, "peft_config") and head == "base":
            with model.disable_adapter():
                logits = model(input_ids=ids).logits
        else:
            if hasattr(model, "peft_config"):
                model.set_adapter(head)
            logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[0].float(), -1)
    first = len(inp) - len(cont)  # the row that predicts the first continuation token
    return sum(logp[first + j, t].item() for j, t in enumerate(cont))


def _question_of_length(tokenizer, n_tokens):
    """A two-choice question whose longest request is exactly n_tokens (context grown word by word)."""
    words = ("The cat sat on the mat. The dog ran in the park. Paris is the capital of France. "
             "Answer: the Sun the Moon a rock a tree energy heat light sound mass force").split()
    for k in range(1, len(words) + 1):
        q = Question(f"edge{k}", "toy", " ".join(words[:k]), ("heat", "light"), 0)
        n = max(sum(map(len, encode_pair(tokenizer, [1], c, x))) for c, x in q.requests())
        if n == n_tokens:
            return q
    raise AssertionError(f"no prefix gives {n_tokens} tokens")


# ---- lengths.py ---------------------------------------------------------------------------------

def test_model_max_length_reads_config():
    import transformers as tf

    assert model_max_length(build_model("llama")) == 512
    assert model_max_length(tf.LlamaConfig(max_position_embeddings=32)) == 32
    assert model_max_length(tf.GPT2Config(n_positions=64)) == 64
    assert model_max_length(SimpleNamespace(config=SimpleNamespace(seq_length=7))) == 7
    assert model_max_length(SimpleNamespace(config=SimpleNamespace(max_sequence_length=9))) == 9
    assert model_max_length(SimpleNamespace(config=SimpleNamespace(hidden_size=8))) is None
    gemma = tf.Gemma3Config()  # multimodal: the length lives in its text config
    assert model_max_length(gemma) == gemma.text_config.max_position_embeddings


def test_too_long_means_the_model_would_read_more_than_max_length():
    assert not is_too_long(MAX + 1, MAX)  # reads MAX tokens, predicts the last
    assert is_too_long(MAX + 2, MAX)
    assert not is_too_long(10**9, None)


def test_error_policy_lists_exactly_the_long_ids():
    qs = SHORT + LONG
    lengths = [10, 33, 34, 50, 40]
    with pytest.raises(LengthError) as e:
        apply_length_policy(qs, lengths, MAX, "error")
    msg = str(e.value)
    assert "l1 (34 tokens), l2 (50 tokens), l3 (40 tokens)" in msg and "s1" not in msg and "s2" not in msg
    assert "3 question(s)" in msg and "context of 32 tokens" in msg
    assert "--length-policy truncate" in msg and "--length-policy skip" in msg and "lm-evaluation-harness" in msg


def test_error_lists_the_first_ten_then_counts():
    qs = [Question(f"q{i}", "toy", "c", ("a",), 0) for i in range(13)]
    with pytest.raises(LengthError) as e:
        apply_length_policy(qs, [100 + i for i in range(13)], MAX, "error")
    msg = str(e.value)
    assert "q9 (109 tokens)" in msg and "q10 " not in msg and "... and 3 more" in msg


def test_skip_keeps_exactly_the_short_ones():
    qs = SHORT + LONG
    kept, report = apply_length_policy(qs, [10, 33, 34, 50, 40], MAX, "skip")
    assert [q.id for q in kept] == ["s1", "s2"]
    assert (report.skipped, report.truncated) == (3, 0)
    assert report.too_long == [("l1", 34), ("l2", 50), ("l3", 40)]
    assert "3 question(s)" in report.summary() and "skipped 3" in report.summary()


def test_truncate_keeps_everything_and_counts():
    qs = SHORT + LONG
    kept, report = apply_length_policy(qs, [10, 33, 34, 50, 40], MAX, "truncate")
    assert kept == qs and (report.skipped, report.truncated) == (0, 3)
    assert "truncated 3" in report.summary()


@pytest.mark.parametrize("policy", LENGTH_POLICIES)
def test_nothing_too_long_keeps_all(policy):
    kept, report = apply_length_policy(SHORT, [20, 33], MAX, policy)
    assert kept == SHORT and report.too_long == [] and report.skipped == report.truncated == 0
    assert report.summary() == "lengths: every question fits the model's context of 32 tokens"
    kept, report = apply_length_policy(SHORT, [10**6, 10**6], None, policy)  # unknown context
    assert kept == SHORT and "unknown" in report.summary()


def test_unknown_policy_and_bad_max_length():
    with pytest.raises(ConfigError, match="error, truncate, skip"):
        apply_length_policy(SHORT, [1, 1], MAX, "cut")
    with pytest.raises(ConfigError):
        EngineConfig(max_length=0)


# ---- the engine ---------------------------------------------------------------------------------

class _CountingTokenizer:
    def __init__(self, tok):
        self.tok, self.calls = tok, 0

    def __call__(self, *a, **kw):
        self.calls += 1
        return self.tok(*a, **kw)

    def __getattr__(self, name):
        return getattr(self.tok, name)


def test_lengths_equal_naive_token_counts_and_tokenize_once(tokenizer):
    qs = SHORT + LONG
    counting = _CountingTokenizer(tokenizer)
    engine = ScoringEngine(_heads_model(), counting, [1], EngineConfig(progress=False, truncate=True))
    naive = [max(sum(map(len, encode_pair(tokenizer, [1], c, x))) for c, x in q.requests()) for q in qs]
    assert engine.lengths(qs) == naive
    assert engine.max_length == MAX and naive[0] <= MAX + 1 < min(naive[2:])
    after_lengths = counting.calls
    engine.score(qs, ("base",))
    assert counting.calls == after_lengths + 1  # only the output-head check; no second tokenization


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
@pytest.mark.parametrize("cache_from", [10**6, 1])  # packed rows; the prefix-cache path
def test_truncated_scores_equal_lm_eval(tokenizer, arch, cache_from):
    model = _heads_model(arch)
    engine = _engine(model, tokenizer, truncate=True, cache_prefix_from=cache_from)
    qs = SHORT + LONG
    table = engine.score(qs, HEADS)
    assert len(table) == len(HEADS) * sum(len(q.choices) for q in qs)
    by_q = {q.id: q for q in qs}
    for row in table:
        q = by_q[row.question_id]
        ref = naive_truncated(model, tokenizer, q.context_for(row.choice), q.continuation(row.choice), row.head)
        assert row.logprob == pytest.approx(ref, abs=1e-4), (row, ref)


def test_questions_within_the_limit_score_bit_identically(tokenizer):
    model = _heads_model()
    edge = _question_of_length(tokenizer, MAX + 1)  # the longest that fits
    qs = SHORT + [edge]
    unlimited = _engine(model, tokenizer, max_length=10**6).score(qs, HEADS)
    for config in ({}, {"truncate": True}):
        limited = _engine(model, tokenizer, **config).score(qs, HEADS)
        assert [r.logprob for r in limited] == [r.logprob for r in unlimited]
    # and the edge question is the full, uncut naive computation
    for row in unlimited:
        if row.question_id == edge.id:
            ctx, cont = edge.requests()[row.choice]
            ref = naive_logprob(model, tokenizer, [1], ctx, cont, row.head)
            assert row.logprob == pytest.approx(ref, abs=1e-4)


def test_engine_without_truncate_refuses_an_over_long_question(tokenizer):
    engine = _engine(_heads_model(), tokenizer)
    with pytest.raises(LengthError) as e:
        engine.score(SHORT + LONG[:1], HEADS)
    assert "l1 (" in str(e.value) and "s1" not in str(e.value)
    assert len(engine.score(SHORT, HEADS)) == len(HEADS) * 4  # the short ones still score


def test_continuation_longer_than_the_context_is_refused_even_with_truncate(tokenizer):
    engine = _engine(_heads_model(), tokenizer, truncate=True)
    q = Question("huge", "toy", "Answer:", ("zq" * 20, "heat"), 0)
    ctx, cont = encode_pair(tokenizer, [1], *q.requests()[0])
    assert len(cont) > MAX
    assert engine.lengths([q]) == [len(ctx) + len(cont)]  # lengths() still answers
    with pytest.raises(LengthError, match=f"huge: a continuation of {len(cont)} tokens"):
        engine.score([q], HEADS)


def test_last_position_stays_inside_the_context_for_dynamic_rope(tokenizer):
    """A request of max_length + 1 tokens keeps its last (only predicted) token in the packed row;
    its position id is clamped, so a dynamic RoPE does not rescale the batch, as lm-eval's input
    of max_length tokens would not."""
    import transformers as tf

    torch.manual_seed(0)
    cfg = tf.LlamaConfig(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=MAX,
                         rope_parameters={"rope_type": "dynamic", "factor": 4.0, "rope_theta": 10000.0})
    cfg._attn_implementation = "sdpa"
    model = tf.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(20)
    qs = SHORT + [_question_of_length(tokenizer, MAX + 1)] + LONG
    for cache_from in (10**6, 1):
        table = _engine(model, tokenizer, truncate=True, cache_prefix_from=cache_from).score(qs)
        by_q = {q.id: q for q in qs}
        for row in table:
            q = by_q[row.question_id]
            ref = naive_truncated(model, tokenizer, q.context_for(row.choice), q.continuation(row.choice), "base")
            assert row.logprob == pytest.approx(ref, abs=1e-4), (row, ref)


def test_desc_labels_the_progress_bar(tokenizer, capsys):
    engine = ScoringEngine(_heads_model(), tokenizer, [1], EngineConfig())
    engine.score(SHORT, ("pos",), desc="scoring pos @ 64 (pass 3/12)")
    assert "scoring pos @ 64 (pass 3/12)" in capsys.readouterr().err
