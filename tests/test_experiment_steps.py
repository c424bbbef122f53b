"""`objectives` asks whether each method learns in a step, as Likra does: the largest doubling rise and
the rise over the paper's critical window, paired by seed (synthetic rows, no model)."""

from __future__ import annotations

import pytest

from likra.experiments.objectives import rise, steps
from likra.experiments.stats import mean_interval, summarise


def rows_of(curves: dict[str, dict[int, list[float]]]) -> list[dict]:
    return [{"seed": seed, "method": m, "examples": n, "accuracy": acc}
            for m, by_n in curves.items() for n, per_seed in by_n.items() for seed, acc in enumerate(per_seed)]


def test_a_step_and_a_slope_are_told_apart():
    ns = (16, 32, 64, 128, 256, 512)
    step = {n: [0.25 + (0.15 if n >= 128 else 0) + 0.01 * s for s in range(3)] for n in ns}  # jumps at 64 -> 128
    slope = {n: [0.25 + 0.02 * i + 0.005 * s for s in range(3)] for i, n in enumerate(ns)}  # 0.02 per doubling
    rows = rows_of({"Likra": step, "dpo": slope})
    out = {st["method"]: st for st in steps(rows, summarise(rows, ("method", "examples"), "accuracy"))}
    assert out["Likra"]["largest_jump"] == [64, 128] and out["Likra"]["jump"]["mean"] == pytest.approx(0.15)
    assert out["Likra"]["critical"]["mean"] == pytest.approx(0.15)  # 64 -> 256 holds the step
    assert out["dpo"]["jump"]["mean"] == pytest.approx(0.02) and out["dpo"]["critical"]["mean"] == pytest.approx(0.04)


def test_rise_is_paired_by_seed():
    # seeds at very different levels, each rising by about 0.1: the interval is about the rise, not the levels
    rows = rows_of({"kto": {64: [0.2, 0.4, 0.6], 256: [0.31, 0.49, 0.71]}})
    r = rise(rows, "kto", (64, 256))
    assert (r["mean"], r["low"], r["high"]) == pytest.approx(mean_interval([0.11, 0.09, 0.11]))
    assert r["low"] > 0.05


def test_a_method_without_the_window_has_no_critical_rise():
    rows = rows_of({"orpo": {1: [0.2, 0.2], 2: [0.3, 0.25], 4: [0.3, 0.3]}})
    (st,) = steps(rows, summarise(rows, ("method", "examples"), "accuracy"))
    assert "critical" not in st and st["largest_jump"] == [1, 2]


def test_per_example_gain_beyond_sft_is_claim_b_g_minus_for_likra():
    # Likra - SFT grows from 0.04 to 0.10 over 64 -> 256 in every seed: 0.06 / 192 per example; SFT has none
    rows = rows_of({"SFT": {64: [0.25, 0.26, 0.27], 128: [0.26, 0.27, 0.28], 256: [0.27, 0.28, 0.29]},
                    "Likra": {64: [0.29, 0.30, 0.31], 128: [0.33, 0.34, 0.35], 256: [0.37, 0.38, 0.39]}})
    out = {st["method"]: st for st in steps(rows, summarise(rows, ("method", "examples"), "accuracy"))}
    assert out["Likra"]["per_example_beyond_sft"]["mean"] == pytest.approx(0.06 / 192)
    assert "per_example_beyond_sft" not in out["SFT"]
    from likra.experiments.curve import gains

    curve_rows = [{"seed": r["seed"], "rule": r["method"].lower(), "examples": r["examples"], "accuracy": r["accuracy"]}
                  for r in rows] + [{"seed": s, "rule": "base-likra", "examples": n, "accuracy": 0.2}
                                    for s in range(3) for n in (64, 128, 256)]
    assert gains(curve_rows, (64, 256))["neg"]["mean"] == pytest.approx(out["Likra"]["per_example_beyond_sft"]["mean"])
