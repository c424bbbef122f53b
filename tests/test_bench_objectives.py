"""benchmarks/bench_objectives.py on a tiny model: every objective timed on the same questions (no timing
is asserted: only what each objective trains on, and that the ratios are computed against nll)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from likra.paths import data_root

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_objectives.py"
pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def test_tiny_objective_throughput(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--steps", "2", "--batch-size", "2", "--rounds", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["objective"]: r for r in json.loads(out.read_text())["results"]}
    assert set(rows) == {"nll", "unlikelihood", "dpo", "simpo", "orpo", "kto", "infonca"}
    assert rows["nll"]["time_vs_nll"] == 1.0 and rows["nll"]["sequences_per_question"] == 1
    assert all(rows[o]["sequences_per_question"] == 2 for o in ("unlikelihood", "dpo", "simpo", "orpo", "kto"))
    assert rows["infonca"]["sequences_per_question"] > 2  # gold and every wrong choice
    assert "time vs nll" in proc.stdout
