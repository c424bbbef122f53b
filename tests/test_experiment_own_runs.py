"""--own-runs-only: an experiment's own runs (negative-only heads, one-head objectives) trained and scored
without the curve's run they pair with, so they can run beside `experiment curve` on another device."""

from __future__ import annotations

import csv

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def tiny(model_dir, out) -> list[str]:
    return ["--model", str(model_dir), "--seeds", "0", "--n-train", "8", "--limit", "5", "--batch-size", "4",
            "--lr", "1e-2", "--negative-kinds", "near-miss,irrelevant", "--objectives", "unlikelihood",
            "--out", str(out)]


def rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_own_runs_are_trained_alone_and_pair_later_as_if_run_together(model_dir, tmp_path, capsys):
    split, together = tmp_path / "split", tmp_path / "together"
    assert main(["--quiet", "experiment", "negatives", "--own-runs-only", *tiny(model_dir, split)]) == 0
    out = capsys.readouterr().out
    run = split / "negatives" / "irrelevant" / "seed-0"
    assert f"  {run}" in out.splitlines() and "no record written" in out
    assert (run / "neg" / "checkpoint-000008").is_dir() and (run / "eval" / "arc_challenge-test").is_dir()
    assert not (split / "seed-0").exists() and not (split / "negatives.json").exists()  # no curve run, no record

    assert main(["--quiet", "experiment", "negatives", *tiny(model_dir, split)]) == 0  # the curve's run, then pairs
    assert "already trained" in capsys.readouterr().err  # the irrelevant run is reused, not trained again
    assert main(["--quiet", "experiment", "negatives", *tiny(model_dir, together)]) == 0
    assert rows(split / "negatives.csv") == rows(together / "negatives.csv")


def test_own_runs_of_objectives_are_their_one_head_runs(model_dir, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["--quiet", "experiment", "objectives", "--own-runs-only", *tiny(model_dir, out)]) == 0
    run = out / "objectives" / "unlikelihood" / "seed-0"
    assert (run / "pos" / "checkpoint-000008").is_dir() and not (out / "seed-0").exists()
    assert f"  {run}" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name,flags,message", [
    ("curve", [], "--own-runs-only: curve has no runs of its own"),
    ("negatives", ["--negative-kinds", "near-miss"], "negatives has no runs of its own with these settings"),
    ("negatives", ["--finished-only"], "--own-runs-only: experiment.own_runs_only trains runs and writes no "
                                       "record: it does not go with experiment.finished_only"),
    ("negatives", ["--keep-from", "x.json"], "it does not go with experiment.keep_from"),
])
def test_own_runs_only_errors_before_any_model_loads(name, flags, message, tmp_path, capsys, monkeypatch):
    import likra.models.loading

    monkeypatch.setattr(likra.models.loading, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    assert main(["experiment", name, "--own-runs-only", "--out", str(tmp_path / "x"), *flags]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "x").exists()
