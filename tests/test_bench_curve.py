"""The learning-curve job benchmark runs end to end on a tiny model (CI keeps it from rotting)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def test_bench_curve_tiny(tmp_path, monkeypatch):
    out = tmp_path / "curve.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_curve.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--tiny", "--out", str(out)])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(script), run_name="__main__")
    assert e.value.code == 0
    r = json.loads(out.read_text())
    assert r["checkpoints"] == [8, 16, 32, 40] and r["train_questions"] == 40 and r["test_questions"] == 10
    # base once + pos and neg at 4 checkpoints, for every choice of every question
    assert r["rows"] % (1 + 2 * 4) == 0 and r["rows"] >= 10 * 3 * 9
    assert r["score_tokens"] > 0 and r["train_tokens"] > 0 and r["score_tflops"] > 0
