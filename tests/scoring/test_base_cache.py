"""scoring/base_cache.py: the base model's rows, scored once and shared by the runs of one test set;
used only for the same shape and an intact file, never by another model or question set."""

from __future__ import annotations

from likra.scoring import base_cache
from likra.scoring.table import ScoreRow, ScoreTable

SHAPE = {"benchmark": "arc_challenge", "split": "test", "limit": 5, "shots": 0, "seed": 1234, "length_policy": "error",
         "model": {"sha": "abc"}, "questions": "q1", "texts": "t1", "run": "/runs/a", "heads": ["pos"]}


def rows(head: str, checkpoint: str, value: float) -> list[ScoreRow]:
    return [ScoreRow(f"q{q}", "arc_challenge", c, head, checkpoint, value - c, 2, 5, 5, c == 0, False)
            for q in range(3) for c in range(2)]


def test_base_rows_are_kept_once_and_filled_into_another_runs_table(tmp_path):
    first = ScoreTable(rows("base", "-", -1.0) + rows("pos", "8", -0.5))
    base_cache.keep(first, tmp_path, SHAPE)
    other_run = {**SHAPE, "run": "/runs/b", "heads": ["neg"]}  # another run of the same test set
    filled = base_cache.fill(ScoreTable(), tmp_path, other_run)
    assert filled.rows == [r for r in first if r.head == "base"]
    assert base_cache.fill(ScoreTable(rows("base", "-", -3.0)), tmp_path, SHAPE).rows == rows("base", "-", -3.0)


def test_other_models_or_questions_and_damaged_files_are_not_used(tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr(base_cache._logger, "warning", warned.append)
    base_cache.keep(ScoreTable(rows("base", "-", -1.0)), tmp_path, SHAPE)
    for changed in ({"model": {"sha": "def"}}, {"texts": "t2"}, {"shots": 25}):
        assert len(base_cache.fill(ScoreTable(), tmp_path, {**SHAPE, **changed})) == 0
    (csv,) = tmp_path.glob("base-*.csv")
    csv.write_text(csv.read_text().replace("-1.0", "-9.0"))
    assert len(base_cache.fill(ScoreTable(), tmp_path, SHAPE)) == 0
    assert "not using the cached base model rows" in warned[0]
