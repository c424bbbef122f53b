"""Decision rules and the score table: computed from rows alone, exactly as defined."""

from __future__ import annotations

import math

import pytest

from likra.scoring.rules import accuracy, accuracy_sweep, choice_scores, correct_vector, predictions, wilson_interval
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable


def _rows(qid, head, cp, lps, gold, chars=(4, 4)):
    return [ScoreRow(qid, "toy", i, head, cp, lp, 2, chars[i], chars[i], i == gold, False) for i, lp in enumerate(lps)]


@pytest.fixture
def table():
    t = ScoreTable()
    # q1: base prefers wrong choice 1; pos prefers gold 0 slightly; neg strongly likes wrong choice 1
    t.extend(_rows("q1", "base", BASE_CHECKPOINT, [-5.0, -4.0], 0))
    t.extend(_rows("q1", "pos", "8", [-4.0, -4.5], 0))
    t.extend(_rows("q1", "neg", "8", [-6.0, -1.0], 0))
    # q2: gold is choice 1; a long gold answer loses on raw sums but wins per character
    t.extend(_rows("q2", "base", BASE_CHECKPOINT, [-4.0, -6.0], 1, chars=(2, 12)))
    t.extend(_rows("q2", "pos", "8", [-4.0, -6.0], 1, chars=(2, 12)))
    t.extend(_rows("q2", "neg", "8", [-1.0, -9.0], 1, chars=(2, 12)))
    return t


def test_rules_pick_as_defined(table):
    assert predictions(table, "base", norm="none")[("toy", "q1")] == (1, 0)
    assert predictions(table, "sft", norm="none", checkpoint="8")[("toy", "q1")] == (0, 0)
    # likra q1: [-4 - -6, -4.5 - -1] = [2, -3.5] -> choice 0
    assert choice_scores(table, "likra", 1.0, "none", "8")[("toy", "q1")] == ([2.0, -3.5], 0)
    assert choice_scores(table, "base-likra", 0.5, "none", "8")[("toy", "q1")] == ([-2.0, -3.5], 0)
    # per-character normalisation flips q2 for the base model: -4/2=-2 < -6/12=-0.5
    assert predictions(table, "base", norm="none")[("toy", "q2")] == (0, 1)
    assert predictions(table, "base", norm="char")[("toy", "q2")] == (1, 1)


def test_accuracy_counts_and_interval(table):
    a = accuracy(table, "likra", 1.0, "char", "8")
    assert (a.correct, a.n) == (2, 2) and a.acc == 1.0
    assert 0 < a.low < 1 and a.high == 1.0
    b = accuracy(table, "base", norm="none")
    assert (b.correct, b.n) == (0, 2)


def test_sweep_is_accuracy_at_each_weight(table):
    # base-likra per char, q1 (gold 0): [(-5 + 6w)/4, (-4 + w)/4] -> choice 0 once w > 0.2;
    # q2 (gold 1): [(-4 + w)/2, (-6 + 9w)/12] -> choice 1 for every w >= 0
    weights = [0.0, 0.1, 0.25, 1.0, 2.0]
    sweep = accuracy_sweep(table, "base-likra", weights, "char", "8")
    assert [a.correct for a in sweep] == [1, 1, 2, 2, 2] and [a.weight for a in sweep] == weights
    assert sweep == [accuracy(table, "base-likra", w, "char", "8") for w in weights]
    assert [a.correct for a in accuracy_sweep(table, "sft", weights, "none", "8")] == [1] * 5  # no weight in sft


def test_correct_vector_per_question(table):
    keys, correct = correct_vector(table, "base", norm="char")
    assert keys == [("toy", "q1"), ("toy", "q2")] and correct.tolist() == [False, True]
    keys, correct = correct_vector(table, "base-likra", 1.0, "char", "8")
    assert keys == [("toy", "q1"), ("toy", "q2")] and correct.tolist() == [True, True]


def test_weight_zero_likra_equals_sft(table):
    for norm in ("none", "char", "token", "byte"):
        assert predictions(table, "likra", 0.0, norm, "8") == predictions(table, "sft", 1.0, norm, "8")


def test_ties_go_to_first_choice():
    t = ScoreTable(_rows("q", "base", BASE_CHECKPOINT, [-1.0, -1.0], 1))
    assert predictions(t, "base", norm="none")[("toy", "q")] == (0, 1)


def test_wilson_interval_known_value():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_missing_head_is_a_clear_error(table):
    with pytest.raises(ValueError, match="needs head 'pos' at checkpoint '99'"):
        accuracy(table, "likra", checkpoint="99")
    with pytest.raises(ValueError, match="unknown rule"):
        accuracy(table, "nope")


def test_table_round_trips_exactly(table, tmp_path):
    table.save(tmp_path / "s.csv")
    again = ScoreTable.load(tmp_path / "s.csv")
    assert again.rows == table.rows
    assert again.checkpoints == ["8"] and again.heads == ["base", "neg", "pos"]


def test_not_a_table(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a likra score table"):
        ScoreTable.load(tmp_path / "x.csv")
