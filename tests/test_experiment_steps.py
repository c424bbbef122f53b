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


def test_gain_beyond_sft_over_questions_is_the_mean_of_each_questions_contrast():
    # 3 seeds x 10 questions: Likra turns questions 0-2 right over 64 -> 256 (seed 2: 0-3), SFT question 9
    from likra.experiments.markdown import steps_table
    from likra.experiments.objectives import beyond_sft_over_questions
    from likra.experiments.stats import crossed_interval

    def bits(k: int, last: bool = False) -> str:
        return "1" * k + "0" * (10 - k - last) + "1" * last

    correct = []
    for s in range(3):
        correct += [{"seed": s, "method": "SFT", "examples": 64, "correct": bits(0)},
                    {"seed": s, "method": "SFT", "examples": 256, "correct": bits(0, last=True)},
                    {"seed": s, "method": "Likra", "examples": 64, "correct": bits(0)},
                    {"seed": s, "method": "Likra", "examples": 256, "correct": bits(3 + (s == 2))}]
    record = {"questions": {"ids": [str(i) for i in range(10)], "correct": correct}}
    matrix = [[(int(a) - int(b)) / 192 for a, b in zip(bits(3 + (s == 2)), bits(0, last=True))] for s in range(3)]
    m, lo, hi = beyond_sft_over_questions(record, "Likra", (64, 256))
    assert (m, lo, hi) == pytest.approx(crossed_interval(matrix)) and m == pytest.approx((10 / 3 - 1) / 10 / 192)
    record["steps"] = [{"method": "Likra", "largest_jump": [64, 256], "jump": {"mean": 0.3, "low": 0.2, "high": 0.4},
                        "per_example_beyond_sft": {"mean": m, "low": m, "high": m}}]
    assert f"(with questions [{lo:+.1e}, {hi:+.1e}])" in steps_table(record)
