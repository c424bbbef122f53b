"""The scoring-rate benchmark runs end to end on a tiny model (CI keeps it from rotting)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def test_bench_peak_tiny(tmp_path, monkeypatch):
    out = tmp_path / "peak.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_peak.py"
    argv = [str(script), "--tiny", "--limit", "3", "--shots", "2", "--batch-tokens", "256,2048",
            "--repeats", "1", "--peak-tflops", "1", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(script), run_name="__main__")
    assert e.value.code == 0
    r = json.loads(out.read_text())
    assert r["questions"] == 3 and r["heads"] == ["base", "pos", "neg"]
    assert [x["batch_tokens"] for x in r["runs"]] == [256, 2048]
    for run in r["runs"]:
        # the rate is the FLOP count over the best time, and the fraction is that over the given peak
        expected = 2 * r["n_params"] * r["needed_tokens"] / run["best_s"] / 1e12
        assert run["tflops"] == pytest.approx(expected, rel=1e-2)  # best_s is rounded to 0.1 ms
        assert run["fraction_of_peak"] == pytest.approx(run["tflops"])
    assert r["best"]["tflops"] == max(x["tflops"] for x in r["runs"])


def test_needed_tokens_counts_shared_prefix_once():
    """3 choices after one context: the context's tokens once plus each choice's own tokens."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _flops import needed_tokens

    from likra.data.questions import Question
    from likra.testing import build_tokenizer

    class Loaded:
        tokenizer = build_tokenizer()
        prefix_token_ids = []

    q = Question("q1", "toy", "Question: why?\nAnswer:", ("aa", "bb bb", "c"), 0)
    tok = Loaded.tokenizer
    ctx = len(tok(q.context, add_special_tokens=False)["input_ids"])
    rests = [len(tok(q.context + " " + c, add_special_tokens=False)["input_ids"]) - ctx for c in q.choices]
    assert needed_tokens(Loaded, [q]) == ctx + sum(rests)
