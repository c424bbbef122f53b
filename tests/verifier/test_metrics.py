"""Each metric against a naive implementation (pairwise loops, explicit bins) and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from likra.verifier import metrics


def naive_auroc(s, y):
    pos = [a for a, t in zip(s, y) if t]
    neg = [a for a, t in zip(s, y) if not t]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def naive_ece(p, y, bins):
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(pi, yi) for pi, yi in zip(p, y) if lo <= pi < hi or (b == bins - 1 and pi == 1.0)]
        if inside:
            total += len(inside) / len(p) * abs(sum(pi for pi, _ in inside) / len(inside)
                                                 - sum(yi for _, yi in inside) / len(inside))
    return total


def test_auroc_by_hand_with_ties():
    # positives 3, 2; negatives 2, 1: pairs (3>2, 3>1, 2=2 -> 1/2, 2>1) = 3.5 / 4
    assert metrics.auroc([3, 2, 2, 1], [True, True, False, False]) == pytest.approx(0.875)
    assert math.isnan(metrics.auroc([1, 2], [True, True]))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 6, 60).astype(float)  # many ties
    y = rng.random(60) < 0.4
    assert metrics.auroc(s, y) == pytest.approx(naive_auroc(s, y), abs=1e-12)


def test_mc1_by_hand():
    qids = ["a"] * 4 + ["b"] * 3 + ["c"] * 2
    # a: best 0.9 beats incorrect 0.5, 0.8 (the other correct 1.2 takes no part) -> 1
    # b: best 0.4 ties the incorrect 0.4 -> 0 (strictly above, as upstream TruthfulQA)
    # c: no incorrect answer -> not counted
    scores = [0.9, 1.2, 0.5, 0.8, 0.4, 0.4, 0.1, 1.0, 2.0]
    best = [1, 0, 0, 0, 1, 0, 0, 1, 0]
    ok = [1, 1, 0, 0, 1, 0, 0, 1, 1]
    assert metrics.mc1(qids, scores, best, ok) == (0.5, 2)


def test_mc2_is_lm_evals_probability_mass():
    qids = ["a"] * 3 + ["b"] * 2
    ll = [-1.0, -2.0, -3.0, -5.0, -4.0]
    ok = [True, False, True, True, False]
    # lm-eval 0.4.13 process_results_mc2, per question
    pa = np.exp([-1.0, -2.0, -3.0])
    pa = pa / pa.sum()
    pb = np.exp([-5.0, -4.0])
    pb = pb / pb.sum()
    expected = (pa[0] + pa[2] + pb[0]) / 2
    assert metrics.mc2(qids, ll, ok) == (pytest.approx(expected), 2)


def test_mc2_survives_what_underflows_plain_exp():
    value, n = metrics.mc2(["q", "q"], [-2000.0, -2000.0 - math.log(3)], [True, False])
    assert n == 1 and value == pytest.approx(0.75)


@pytest.mark.parametrize("bins", [1, 5, 10, 15])
def test_ece_matches_naive(bins):
    rng = np.random.default_rng(bins)
    p = np.concatenate([rng.random(200), [0.0, 1.0, 0.5, 0.1, 0.2]])
    y = rng.random(len(p)) < p ** 2
    assert metrics.ece(p, y, bins) == pytest.approx(naive_ece(p.tolist(), y.tolist(), bins), abs=1e-12)


def test_reliability_bins_by_hand():
    rows = metrics.reliability([0.05, 0.15, 0.15, 0.95, 1.0], [False, True, False, True, True], bins=10)
    assert len(rows) == 10 and [r["count"] for r in rows] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rows[1]["mean_predicted"] == pytest.approx(0.15) and rows[1]["observed"] == 0.5
    assert rows[2]["mean_predicted"] is None and rows[9]["observed"] == 1.0
    # ECE = 1/5 * 0.05 + 2/5 * 0.35 + 2/5 * 0.025
    assert metrics.ece([0.05, 0.15, 0.15, 0.95, 1.0], [False, True, False, True, True]) == pytest.approx(0.16)


def test_flag_precision_recall_by_hand():
    flagged = [True, True, True, False, False, False]
    ok = [False, False, True, False, True, True]  # flagged: 2 false + 1 correct; 1 false not flagged
    q = metrics.flag_quality(flagged, ok)
    assert q["precision"] == pytest.approx(2 / 3) and q["recall"] == pytest.approx(2 / 3)
    assert q["f1"] == pytest.approx(2 / 3) and q["flagged"] == 3 and q["false_answers"] == 3
    assert q["accuracy"] == pytest.approx(4 / 6)
    assert math.isnan(metrics.flag_quality([False, False], [True, False])["precision"])


def test_brier_by_hand():
    assert metrics.brier([0.8, 0.3], [True, False]) == pytest.approx((0.04 + 0.09) / 2)
