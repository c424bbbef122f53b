"""The scoring benchmark (benchmarks/bench_scoring.py) end to end on a tiny random model.

Runs in a subprocess (it sets torch's thread count and imports lm-eval, which should not leak into
the rest of the suite). Asserts the results' shape and that likra and lm-eval agree, never timings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from likra.paths import data_root

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scoring.py"
SETTINGS = ("arc_challenge_0shot", "arc_challenge_25shot", "hellaswag_10shot", "winogrande_5shot")
NEEDED = ("arc/ARC-Challenge-test.jsonl", "hellaswag/validation.jsonl", "winogrande/train_l.jsonl")

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("lm_eval") is None,
                       reason="lm-evaluation-harness is not installed (pip install lm_eval==0.4.13)"),
    pytest.mark.skipif(not all((data_root() / f).is_file() for f in NEEDED),
                       reason=f"benchmark data not found under {data_root()} (set LIKRA_DATA)"),
]


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "result.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # one thread: on a shared 2-core machine two threads mostly wait for each other
    cmd = [sys.executable, str(SCRIPT), "--tiny", "--limit", "3", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_result_has_expected_keys(result):
    for key in ("command", "machine", "versions", "model", "config", "prefix_tokens", "load_seconds", "settings"):
        assert key in result
    assert "--tiny" in result["command"]
    assert result["versions"]["lm_eval"] and result["versions"]["torch"]
    assert set(result["settings"]) == set(SETTINGS)
    for s in result["settings"].values():
        assert s["n"] == 3
        for key in ("lm_eval", "likra", "throughput", "parity"):
            assert key in s
        assert set(s["parity"]["heads"]) == {"base", "pos", "neg"}


def test_both_sides_score_without_a_prefix_token(result):
    assert result["prefix_tokens"]["likra"] == result["prefix_tokens"]["lm_eval"] == []


def test_likra_scoring_is_deterministic(result):
    for s in result["settings"].values():
        assert len(s["likra"]["repeats"]) == 3
        assert s["likra"]["repeats_identical"]


def test_ratio_is_a_positive_number(result):
    for s in result["settings"].values():
        for key in ("ratio", "ratio_cpu", "ratio_end_to_end"):
            value = s["throughput"][key]
            assert isinstance(value, float) and value > 0


@pytest.mark.parametrize("setting", SETTINGS)
def test_base_accuracy_agrees_exactly(result, setting):
    """On the same request texts, likra's decision rules pick what lm-eval's metrics pick."""
    base = result["settings"][setting]["parity"]["heads"]["base"]
    assert base["likra_on_lm_eval_texts"] == base["lm_eval"]
    if result["settings"][setting]["parity"]["texts"]["identical"]:
        assert base["likra"] == base["lm_eval"]
        assert base["chosen_differ_acc"] == 0
        assert base["max_abs_loglik_diff"] < 1e-3


@pytest.mark.parametrize("setting", ("arc_challenge_0shot", "arc_challenge_25shot", "hellaswag_10shot"))
def test_prompts_are_identical(result, setting):
    """likra builds lm-eval's exact prompts, few-shot examples included (ARC: from train; HellaSwag:
    from validation, leaving the document itself out)."""
    assert result["settings"][setting]["parity"]["texts"]["identical"]


def test_heads_agree_with_their_adapters_in_lm_eval(result):
    """pos/neg scored in one mixed batch match lm-eval running base + that adapter (same texts)."""
    for s in result["settings"].values():
        for head in ("pos", "neg"):
            h = s["parity"]["heads"][head]
            same = h.get("on_lm_eval_texts", h)
            assert same["max_abs_loglik_diff"] < 1e-3
            assert h["likra_on_lm_eval_texts"] == h["lm_eval"]
