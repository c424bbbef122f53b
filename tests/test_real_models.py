"""Slow: the engine on real packaged models, with contexts longer than Gemma's sliding window."""

from __future__ import annotations

import pytest

from likra.config import EvalConfig
from likra.models.registry import ModelNotInstalledError
from likra.paths import data_root
from tests.scoring.naive import naive_logprob

pytestmark = pytest.mark.slow


def _load(name):
    from likra.models.loading import load_model

    try:
        return load_model(name)
    except ModelNotInstalledError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m"])
def test_engine_equals_naive_on_real_model_25_shot(name):
    if not (data_root() / "arc").is_dir():
        pytest.skip("benchmark data not found")
    from likra.evaluate import eval_questions
    from likra.models.heads import attach_heads
    from likra.scoring.engine import EngineConfig, ScoringEngine

    loaded = _load(name)
    model = attach_heads(loaded.model)
    questions = eval_questions(EvalConfig(limit=2, shots=25))
    n_tokens = len(loaded.tokenizer(questions[0].context)["input_ids"])
    assert n_tokens > 600  # longer than Gemma 3's 512-token sliding window
    table = ScoringEngine(model, loaded.tokenizer, loaded.prefix_token_ids, EngineConfig(progress=False)).score(
        questions, ("base", "pos"))
    for row in table:
        q = next(q for q in questions if q.id == row.question_id)
        ref = naive_logprob(model, loaded.tokenizer, loaded.prefix_token_ids, q.context_for(row.choice),
                            q.continuation(row.choice), row.head)
        assert row.logprob == pytest.approx(ref, abs=2e-3), (name, row, ref)
