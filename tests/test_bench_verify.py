"""benchmarks/bench_verify.py on a tiny model: both paths do the same work (equal log-likelihoods) on
the same answers, and the ratio is computed (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from likra.paths import data_root

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_verify.py"
pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def test_tiny_verify_throughput_against_eval(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--questions", "6", "--rounds", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = json.loads(out.read_text())
    assert rec["questions"] == 6 and rec["answers"] >= 6 * 3 and rec["heads"] == ["base", "pos", "neg"]
    assert rec["max_abs_delta"] < 1e-4
    assert rec["verify_over_eval"] == pytest.approx(rec["median"]["verify"] / rec["median"]["eval"])
    assert "verify / eval time" in proc.stdout
