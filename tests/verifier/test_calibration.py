"""Platt scaling: it fixes a miscalibrated score, round-trips through JSON, and its threshold and
cross-fitting do what they say."""

from __future__ import annotations

import json

import numpy as np
import pytest

from likra.errors import ArtifactError, ConfigError
from likra.verifier import metrics
from likra.verifier.calibration import (Calibration, choose_threshold, cross_fit, fit_platt, load_calibration,
                                        sigmoid)


def synthetic(n=4000, seed=0):
    """Scores whose true probability of being correct is sigmoid(3s + 1)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 1, n)
    return s, rng.random(n) < sigmoid(3 * s + 1)


def test_platt_fixes_a_miscalibrated_score():
    s, y = synthetic()
    a, b = fit_platt(s, y)
    assert a == pytest.approx(3, abs=0.35) and b == pytest.approx(1, abs=0.2)
    raw, fitted = metrics.ece(sigmoid(s), y), metrics.ece(sigmoid(a * s + b), y)
    assert raw > 0.1 and fitted < 0.03
    # held out: fitted on one half, measured on the other
    s2, y2 = synthetic(seed=1)
    assert metrics.ece(sigmoid(a * s2 + b), y2) < 0.03


def test_platt_is_finite_on_separable_and_one_class_data():
    a, b = fit_platt([0.0, 1.0, 2.0, 3.0], [False, False, True, True])
    assert np.isfinite([a, b]).all() and a > 0
    a, b = fit_platt([0.5, 0.5, 0.5], [True, True, True])  # constant score, one class: the smoothed base rate
    assert a == pytest.approx(0, abs=1e-6) and sigmoid(np.array(b)) == pytest.approx(4 / 5)
    with pytest.raises(ConfigError):
        fit_platt([], [])


def test_platt_matches_a_brute_force_maximum():
    s, y = synthetic(300, seed=3)
    a, b = fit_platt(s, y)
    n_pos, n_neg = y.sum(), (~y).sum()
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def nll(a, b):
        p = np.clip(sigmoid(a * s + b), 1e-15, 1 - 1e-15)
        return -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))

    best = nll(a, b)
    for da in (-0.01, 0.01):
        for db in (-0.01, 0.01):
            assert nll(a + da, b + db) > best


def test_threshold_has_the_fewest_errors():
    rng = np.random.default_rng(0)
    p = np.round(rng.random(80), 2)  # ties
    y = rng.random(80) < p
    t = choose_threshold(p, y)

    def errors(t):
        return int(((p < t) & y).sum() + ((p >= t) & ~y).sum())

    assert errors(t) == min(errors(c) for c in np.linspace(0, 1.01, 1011))
    assert choose_threshold([0.2, 0.8], [False, True]) == pytest.approx(0.5)  # nearest 0.5 among equals


def test_cross_fit_never_uses_the_held_out_fold():
    s, y = synthetic(400)
    folds = np.arange(400) % 4
    first = cross_fit(s, y, folds)
    flipped = y.copy()
    flipped[folds == 0] = ~flipped[folds == 0]  # the labels of fold 0 change: its predictions must not
    second = cross_fit(s, flipped, folds)
    assert np.array_equal(first.probs[folds == 0], second.probs[folds == 0])
    assert np.array_equal(first.thresholds[folds == 0], second.thresholds[folds == 0])
    assert not np.array_equal(first.probs[folds == 1], second.probs[folds == 1])


def calibration(**kw):
    fields = dict(rule="likra", weight=0.5, norm="char", a=2.0, b=-1.0, threshold=0.4, n_fit=10, n_correct=4,
                  n_questions=3, source="TruthfulQA.csv", run="runs/x", checkpoint=6)
    return Calibration(**{**fields, **kw})


def test_round_trip(tmp_path):
    cal = calibration()
    cal.save(tmp_path / "c.json")
    assert load_calibration(tmp_path / "c.json") == cal
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary file left behind
    # one candidate gets a probability on its own: no softmax over alternatives
    assert cal.probability([0.7]) == pytest.approx([sigmoid(np.array(2 * 0.7 - 1))])
    assert cal.flagged(cal.probability([0.0, 2.0])).tolist() == [True, False]


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("a"), "missing"), (lambda d: d.update(a="x"), "calibration.a"),
    (lambda d: d.update(rule="nope"), "calibration.rule"), (lambda d: d.update(threshold=2), "threshold"),
    (lambda d: d.update(format="other"), "not a likra verifier calibration"),
])
def test_damaged_file_is_an_artifact_error(tmp_path, edit, match):
    data = calibration().to_dict()
    edit(data)
    (tmp_path / "c.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=match):
        load_calibration(tmp_path / "c.json")
    (tmp_path / "t.json").write_text('{"format": "likra-verifier-cal')
    with pytest.raises(ArtifactError, match="truncated"):
        load_calibration(tmp_path / "t.json")
