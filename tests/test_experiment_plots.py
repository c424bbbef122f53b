"""Experiment plots say how many seeds each line has and keep every line readable beside a wide band."""

import math

import pytest

pytest.importorskip("matplotlib")

from likra.experiments import plots


def points(means, half, seeds):
    return [{"x": 2 ** i, "mean": m, "low": m - half if seeds > 1 else math.nan,
             "high": m + half if seeds > 1 else math.nan, "seeds": seeds} for i, m in enumerate(means)]


def test_the_title_counts_the_seeds_the_summary_has_not_those_asked_for():
    assert plots.seeds_label([{"seeds": 3}, {"seeds": 3}]) == "3 seeds"
    assert plots.seeds_label([{"seeds": 1}]) == "1 seed"
    assert plots.seeds_label([{"seeds": 3}, {"seeds": 1}, {"seeds": 2}]) == "1-3 seeds (per line in the legend)"


def test_a_one_seed_title_says_it_has_no_band():
    assert plots.band_label([{"seeds": 1}]) == "1 seed, no band"
    assert plots.band_label([{"seeds": 3}]) == "3 seeds, 95% band"
    assert plots.band_label([{"seeds": 1}, {"seeds": 2}]) == "1-2 seeds (per line in the legend), 95% band"


def test_lines_with_different_seeds_say_their_own_and_a_wide_band_runs_off_the_frame(tmp_path, monkeypatch):
    import matplotlib.axes

    seen = {}
    real_plot, real_ylim = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.set_ylim
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda ax, *a, **k: (seen.setdefault("labels", []).append(k.get("label")),
                                             real_plot(ax, *a, **k))[1])
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylim",
                        lambda ax, *a, **k: (len(a) == 2 and seen.__setitem__("ylim", a), real_ylim(ax, *a, **k))[1])
    series = {"a": points([0.30, 0.35, 0.40], 0.02, 3),   # a 3-seed band: kept in frame
              "b": points([0.28, 0.30, 0.33], 0.40, 2)}   # a 2-seed band of +-0.40: cut by the frame
    out = plots.band_plot(series, tmp_path / "p.png", "t", "x", "y", labels={"a": "A", "b": "B"})
    assert out.stat().st_size > 0
    assert seen["labels"] == ["A (3 seeds)", "B (2 seeds)"]
    lo, hi = seen["ylim"]
    assert lo <= 0.28 and hi >= 0.42  # every mean and the narrow band
    assert lo > 0.0 and hi < 0.6      # not the wide band (0.0 .. 0.73 after clipping)


def test_lines_with_the_same_seeds_keep_their_labels(tmp_path, monkeypatch):
    import matplotlib.axes

    labels = []
    real_plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda ax, *a, **k: (labels.append(k.get("label")), real_plot(ax, *a, **k))[1])
    plots.band_plot({"a": points([0.3, 0.4], 0.02, 3), "b": points([0.2, 0.3], 0.02, 3)}, tmp_path / "p.png",
                    "t", "x", "y", labels={"a": "A", "b": "B"})
    assert labels == ["A", "B"]


def test_a_second_rule_on_the_same_head_is_dashed_in_its_colour(tmp_path, monkeypatch):
    import matplotlib.axes

    from likra.experiments import objectives

    drawn = {}
    real_plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda ax, *a, **k: (drawn.__setitem__(k.get("label"), (k.get("color"), k.get("linestyle"))),
                                             real_plot(ax, *a, **k))[1])
    summary = [{"method": m, "examples": x, "mean": 0.3, "low": float("nan"), "high": float("nan"), "seeds": 1}
               for m in ("Likra", "SFT", "dpo", "dpo (reward)", "simpo") for x in (1, 2)]

    class S:
        out = tmp_path
        from likra.config import ExperimentConfig
        cfg = ExperimentConfig(seeds=(0,))

    objectives.plot(summary, S)
    assert drawn["dpo (reward)"] == (drawn["dpo"][0], "--")
    assert drawn["dpo"][1] == "-" and drawn["simpo"][0] != drawn["dpo"][0]


def test_objectives_read_by_their_reward_get_a_panel_of_their_own_beside_the_references(tmp_path, monkeypatch):
    import matplotlib.axes

    from likra.experiments import objectives

    panel_of = {}
    real_plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda ax, *a, **k: (panel_of.setdefault(k.get("label"), []).append(id(ax)),
                                             real_plot(ax, *a, **k))[1])
    summary = [{"method": m, "examples": x, "mean": 0.3, "low": 0.28, "high": 0.32, "seeds": 3}
               for m in ("Likra", "SFT", "Base-Likra", "dpo", "dpo (reward)", "orpo") for x in (1, 2, 4)]

    class S:
        out = tmp_path
        from likra.config import ExperimentConfig
        cfg = ExperimentConfig(seeds=(0, 1, 2))

    objectives.plot(summary, S)
    own, reward = panel_of["dpo"][0], panel_of["dpo (reward)"][0]
    assert own != reward and panel_of["orpo"] == [own] and panel_of["dpo (reward)"] == [reward]
    assert all(panel_of[m] == [own, reward] for m in ("Likra", "SFT", "Base-Likra"))  # the references in both
    assert (tmp_path / "objectives.png").stat().st_size > 0
