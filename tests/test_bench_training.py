"""benchmarks/bench_training.py: likra's head training against the HF Trainer baseline, on a tiny model.

Never asserts a timing: only that both sides trained on the same tokens from the same initial
adapters and that, with the same batches (curve=False), their loss curves are the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:  # a guard against hangs, roomy under load
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_help_explains():
    proc = _run("--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--model", "--n-train", "--batch-size", "--tiny", "--out"):
        assert flag in proc.stdout
    assert "baseline" in proc.stdout and "Trainer" in proc.stdout


def test_tiny_benchmark_same_tokens_and_loss_curve(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run("--tiny", "--n-train", "12", "--batch-size", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| baseline |" in proc.stdout and "| likra |" in proc.stdout

    record = json.loads(out.read_text())
    assert record["command"] and record["machine"]["versions"]["torch"]
    sides, comparisons = record["results"]["sides"], record["results"]["comparisons"]
    assert set(sides) == {"baseline", "likra", "likra-curve"}
    base = sides["baseline"]
    for name in ("likra", "likra-curve"):
        side = sides[name]
        assert side["real_tokens"] == base["real_tokens"] > 0
        assert side["answer_tokens"] == base["answer_tokens"] > 0
        assert side["examples"] == base["examples"] == 2 * 12
        assert side["init_adapter_digest"] == base["init_adapter_digest"]
        assert comparisons[name]["same_tokens"] and comparisons[name]["same_init"]
        assert comparisons[name]["tokens_per_s_ratio"] > 0
        assert comparisons[name]["peak_rss_ratio"] > 0
        for head in ("pos", "neg"):
            assert side["losses"][head] and all(loss > 0 for _, loss in side["losses"][head])

    # same batches of 4: 3 steps per head, and the same losses step by step
    assert base["steps"] == sides["likra"]["steps"] == {"pos": 3, "neg": 3}
    curve = comparisons["likra"]["loss_curve"]
    assert curve["steps_compared"] == 6 and curve["steps_unmatched"] == 0
    assert curve["max_abs"] < 1e-3, curve
    # the default schedule starts with batches of 1, 1, 2, ...: more steps, not compared step by step
    assert sides["likra-curve"]["steps"]["pos"] > 3
    assert "loss_curve" not in comparisons["likra-curve"]
