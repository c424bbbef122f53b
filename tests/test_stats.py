"""experiments/stats.py: the across-seed t interval and the seeds x questions (crossed) interval: their
limits equal the plain t intervals, and the crossed one covers the true mean ~95% of the time when both
seeds and questions vary, where the seeds-only interval does not."""

from __future__ import annotations

import random

import pytest

import math

from likra.experiments.stats import crossed_interval, mean_interval, ratio_interval, t975


def test_one_seed_is_the_paired_t_interval_over_questions():
    values = [1, 0, 0, -1, 1, 1, 0, 1]
    assert crossed_interval([values]) == pytest.approx(mean_interval(values))


def test_seeds_that_agree_give_the_t_interval_over_questions():
    q = [0.3, 0.1, 0.5, 0.2, 0.9, 0.4]
    assert crossed_interval([q, q, q]) == pytest.approx(mean_interval(q))


def test_questions_that_agree_within_a_seed_give_the_t_interval_over_seeds():
    seeds = [0.1, 0.3, 0.2]
    assert crossed_interval([[s] * 50 for s in seeds]) == pytest.approx(mean_interval(seeds))


def test_no_variation_is_a_point_and_ragged_input_is_refused():
    assert crossed_interval([[0.5] * 4] * 3) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="every question"):
        crossed_interval([[1, 0], [1]])


def simulate(rng, seeds, questions, sd_seed, sd_question, sd_noise, mu=0.1):
    a = [rng.gauss(0, sd_seed) for _ in range(seeds)]
    b = [rng.gauss(0, sd_question) for _ in range(questions)]
    return [[mu + a[s] + b[q] + rng.gauss(0, sd_noise) for q in range(questions)] for s in range(seeds)]


@pytest.mark.parametrize("sd_seed, sd_question, questions_dominate", [(0.02, 0.3, True), (0.2, 0.05, False),
                                                                     (0.1, 0.2, False)])
def test_crossed_interval_covers_the_mean_about_95_percent(sd_seed, sd_question, questions_dominate):
    rng = random.Random(0)
    hits = seed_only = 0
    trials = 400
    for _ in range(trials):
        m = simulate(rng, 3, 40, sd_seed, sd_question, 0.3)
        _, lo, hi = crossed_interval(m)
        hits += lo <= 0.1 <= hi
        _, slo, shi = mean_interval([sum(r) / len(r) for r in m])
        seed_only += slo <= 0.1 <= shi
    assert 0.91 <= hits / trials <= 0.99
    if questions_dominate:  # counting seeds alone then misses the mean far more often
        assert seed_only / trials < 0.9 < hits / trials


def fieller_one_seed(n: list[float], d: list[float]) -> tuple[float, float]:
    """Fieller's bounds in closed form for paired data (one seed): the roots in r of
    (mean n - r mean d)^2 = t^2 Var(n - r d) / q."""
    q = len(n)
    mn, md = sum(n) / q, sum(d) / q
    cov = lambda x, mx, y, my: sum((a - mx) * (b - my) for a, b in zip(x, y)) / (q - 1)  # noqa: E731
    k = t975(q - 1) ** 2 / q
    a = md ** 2 - k * cov(d, md, d, md)
    b = -2 * (mn * md - k * cov(n, mn, d, md))
    c = mn ** 2 - k * cov(n, mn, n, mn)
    root = math.sqrt(b * b - 4 * a * c)
    return tuple(sorted(((-b - root) / (2 * a), (-b + root) / (2 * a))))


def test_ratio_interval_is_fiellers_and_unbounded_when_the_denominator_is_not_told_from_zero():
    rng = random.Random(3)
    d = [1.0 + rng.gauss(0, 1) for _ in range(40)]
    n = [5 * x + rng.gauss(0, 2) for x in d]
    est, lo, hi = ratio_interval([n], [d])
    assert est == pytest.approx(sum(n) / sum(d))
    assert (lo, hi) == pytest.approx(fieller_one_seed(n, d), rel=1e-6)
    flat = [rng.gauss(0, 1) for _ in range(40)]  # a denominator whose mean is not told from 0
    _, lo, hi = ratio_interval([n], [flat])
    assert math.isinf(lo) or math.isinf(hi)
