"""The request-level core: `score_requests` equals the naive computation, and `score` is a thin layer over it."""

from __future__ import annotations

import pytest
import torch

from likra.errors import LengthError
from likra.models.heads import LoraSettings, attach_heads
from likra.scoring.engine import EngineConfig, Request, ScoringEngine
from likra.ops.tokenize import encode_pair
from likra.testing import build_model
from tests.scoring.naive import naive_logprob
from tests.scoring.test_engine import QUESTIONS, _randomise_heads

# lm-eval style: one request per (context, continuation); contexts repeat across a document's choices
REQUESTS = [Request(ctx, cont) for q in QUESTIONS for ctx, cont in q.requests()] + [
    Request("Question: Which gas do plants take in?\nAnswer:", " light"),  # joins q1's context group
    Request("A lone request", " with its own context"),
]


def _naive_greedy(model, tokenizer, prefix, context, continuation, head) -> bool:
    ctx, cont = encode_pair(tokenizer, prefix, context, continuation)
    with torch.inference_mode():
        if head == "base":
            with model.disable_adapter():
                logits = model(input_ids=torch.tensor([ctx + cont])).logits[0]
        else:
            model.set_adapter(head)
            logits = model(input_ids=torch.tensor([ctx + cont])).logits[0]
    return all(logits[len(ctx) + j - 1].argmax().item() == t for j, t in enumerate(cont))


@pytest.fixture(scope="module")
def engine(tokenizer):
    model = attach_heads(build_model("llama"), LoraSettings())
    _randomise_heads(model)
    return ScoringEngine(model, tokenizer, [1], EngineConfig(batch_tokens=256, progress=False))


def test_requests_equal_naive(engine, tokenizer):
    """Every request and head: the naive log-likelihood, its token count and its greediness."""
    out = engine.score_requests(REQUESTS, heads=("base", "pos", "neg"))
    assert len(out) == len(REQUESTS)
    for r, scores in zip(REQUESTS, out):
        assert set(scores) == {"base", "pos", "neg"}
        for head, s in scores.items():
            ref = naive_logprob(engine.model, tokenizer, [1], r.context, r.continuation, head)
            assert s.loglik == pytest.approx(ref, abs=1e-4)
            assert s.n_tokens == len(encode_pair(tokenizer, [1], r.context, r.continuation)[1])
            assert s.is_greedy == _naive_greedy(engine.model, tokenizer, [1], r.context, r.continuation, head)


def test_grouping_does_not_change_numbers(engine):
    """Grouped by context, by explicit group, or each alone: the same log-likelihoods."""
    by_context = engine.score_requests(REQUESTS, ("pos",))
    alone = engine.score_requests([Request(r.context, r.continuation, group=i) for i, r in enumerate(REQUESTS)],
                                  ("pos",))
    for a, b in zip(by_context, alone):
        assert a["pos"].loglik == pytest.approx(b["pos"].loglik, abs=1e-5)
        assert a["pos"].n_tokens == b["pos"].n_tokens


def test_score_is_built_on_requests(engine):
    """score(questions) gives the table rows that score_requests gives each question's requests."""
    table = engine.score(QUESTIONS, heads=("base", "neg"))
    grouped = [Request(c, x, group=q.id) for q in QUESTIONS for c, x in q.requests()]
    flat = engine.score_requests(grouped, ("base", "neg"))
    rows = {(r.question_id, r.choice, r.head): r for r in table}
    i = 0
    for q in QUESTIONS:
        for c in range(len(q.choices)):
            for head in ("base", "neg"):
                assert rows[(q.id, c, head)].logprob == flat[i][head].loglik
                assert rows[(q.id, c, head)].n_tokens == flat[i][head].n_tokens
            i += 1


def test_too_long_request_is_refused_or_truncated(tokenizer):
    model = build_model("llama")
    long = [Request("word " * 40, " end")]
    with pytest.raises(LengthError, match="request 0"):
        ScoringEngine(model, tokenizer, [], EngineConfig(max_length=16, progress=False)).score_requests(long)
    cut = ScoringEngine(model, tokenizer, [],
                        EngineConfig(max_length=16, truncate=True, progress=False)).score_requests(long)
    assert cut[0]["base"].n_tokens >= 1


def test_unknown_head_is_refused(engine):
    with pytest.raises(ValueError, match="unknown head"):
        engine.score_requests(REQUESTS[:1], heads=("other",))
