"""The curve's log line of the per-example gain: an interval only where there is one."""

import math

from likra.experiments.curve import fmt


def test_one_seed_prints_no_nan_interval():
    assert fmt({"mean": 8.333e-05, "low": math.nan, "high": math.nan}) == "8.333e-05 (one seed: no interval)"


def test_several_seeds_print_the_interval():
    assert fmt({"mean": 1.7, "low": -4.5, "high": 7.9}) == "1.7 [-4.5, 7.9]"
