"""The length policy end to end: questions and training examples longer than the model's context are
an error listing them, or (opt-in) truncated on the left as lm-eval does, or skipped and counted."""

from __future__ import annotations

import json

import pytest

from likra.cli import main
from likra.paths import data_root
from likra.testing import build_model

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def short_model_dir(tmp_path_factory, tokenizer):
    """A model whose context (100 tokens) is shorter than some ARC questions (with the tiny tokenizer,
    ARC-Challenge test questions run 42 to 384 tokens)."""
    import transformers as tf

    folder = tmp_path_factory.mktemp("short-llama")
    model = build_model("llama")
    cfg = model.config
    cfg.max_position_embeddings = 100
    tf.LlamaForCausalLM(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_length_policy_error_skip_truncate(short_model_dir, tmp_path, capsys):
    base = ["--quiet", "eval", "--model", str(short_model_dir), "--limit", "20"]
    assert main([*base, "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "longer than the model's context" in err or "too long" in err
    assert "--length-policy" in err
    assert main([*base, "--length-policy", "skip", "--out", str(tmp_path / "s")]) == 0
    skipped = json.loads((tmp_path / "s" / "results.json").read_text())
    assert 0 < skipped["length"]["skipped"] < 20 and skipped["questions"] == 20 - skipped["length"]["skipped"]
    assert main([*base, "--length-policy", "truncate", "--out", str(tmp_path / "t")]) == 0
    truncated = json.loads((tmp_path / "t" / "results.json").read_text())
    assert truncated["questions"] == 20 and truncated["length"]["truncated"] == skipped["length"]["skipped"]


def test_training_examples_too_long_are_an_error_or_skipped(short_model_dir, tmp_path, capsys):
    base = ["--quiet", "train", "--model", str(short_model_dir), "--n-train", "12", "--batch-size", "4"]
    assert main([*base, "--out", str(tmp_path / "e")]) == 2
    assert "--length-policy" in capsys.readouterr().err and not (tmp_path / "e").exists()
    assert main([*base, "--length-policy", "skip", "--out", str(tmp_path / "s")]) == 0
    record = json.loads((tmp_path / "s" / "run.json").read_text())
    assert 0 < record["data"]["skipped_too_long"] and record["data"]["used"] == 12 - record["data"]["skipped_too_long"]


