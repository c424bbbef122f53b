"""The report benchmark (benchmarks/bench_report.py) on its small table: both sides give the same numbers.

Asserts the result's shape and that the row-by-row baseline and the columnar rules agree, never timings.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_report.py"


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", [str(SCRIPT), "--quick", "--out", str(out)])
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(SCRIPT), run_name="__main__")
    assert e.value.code == 0  # 1 when the two reports differ
    return json.loads(out.read_text())


def test_both_sides_give_the_same_report(result):
    assert result["identical"] is True


def test_the_quick_table_and_sweep(result):
    t = result["table"]
    # base + pos and neg at 3 checkpoints, 60 questions x 4 choices; 3 x (base + sft + 5 likra + 5 base-likra)
    assert t["rows"] == 60 * 4 * (1 + 2 * 3) and t["weights"] == 5
    assert t["report_rows"] == 3 * (1 + 1 + 5 + 5) and t["accuracies"] == 2 * t["report_rows"]


def test_times_and_ratios_are_reported(result):
    for side in (result["baseline_row_by_row"], result["likra_columnar"]):
        assert side["wall_s"] > 0 and side["cpu_s"] >= 0
    assert len(result["likra_columnar"]["runs"]) == 2
    assert isinstance(result["ratio_wall"], float) and result["ratio_wall"] > 0
    assert len(result["load_average_before"]) == 3 and result["versions"]["numpy"]


def test_checkpoints_follow_the_learning_curve():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from bench_report import checkpoint_names
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert checkpoint_names(12) == ["0", "8", "16", "32", "64", "128", "256", "512", "1024", "2048", "4096", "6604"]
    assert checkpoint_names(3) == ["0", "8", "6604"] and checkpoint_names(1) == ["6604"]
