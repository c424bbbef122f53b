"""experiments/stats.py: the across-seed t interval and the seeds x questions (crossed) interval: their
limits equal the plain t intervals, and the crossed one covers the true mean ~95% of the time when both
seeds and questions vary, where the seeds-only interval does not."""

from __future__ import annotations

import random

import pytest

from likra.experiments.stats import crossed_interval, mean_interval


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
