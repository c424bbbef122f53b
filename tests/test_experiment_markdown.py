"""experiments/markdown.py: each experiment's summary as a table at chosen example counts, and the
RESULTS.md blocks it renders again from records (no figure copied by hand)."""

from __future__ import annotations

import json
import math

import pytest

from likra.errors import ConfigError
from likra.experiments.markdown import cell, default_at, main, refresh, table

NAN = math.nan


def summary_row(examples, mean, low=NAN, high=NAN, **keys):
    return {**keys, "examples": examples, "mean": mean, "low": low, "high": high, "seeds": 1 if math.isnan(low) else 3}


def curve_record():
    rows = []
    for n in (1, 2, 4, 8, 16, 32):
        rows.append(summary_row(n, 0.25, 0.25, 0.25, rule="base"))
        rows.append(summary_row(n, 0.25 + n / 1000, 0.24 + n / 1000, 0.26 + n / 1000, rule="sft"))
        rows.append(summary_row(n, 0.3 + n / 100, 0.28 + n / 100, 0.32 + n / 100, rule="likra"))
        rows.append(summary_row(n, 0.2, 0.19, 0.21, rule="base-likra"))
    return {"experiment": "curve", "summary": rows}


def test_a_cell_is_the_mean_and_its_interval_or_the_mean_alone_with_one_seed():
    assert cell(summary_row(8, 0.4271, 0.4019, 0.4524)) == "0.427 [0.402, 0.452]"
    assert cell(summary_row(8, 0.438)) == "0.438"
    assert cell(summary_row(8, 0.248, 0.248, 0.248)) == "0.248 [0.248, 0.248]"  # no width, shown: every seed agrees
    assert cell(summary_row(8, 0.0634, 0.05, 0.07), signed=True) == "+0.063 [+0.050, +0.070]"
    assert cell(summary_row(8, -0.005), signed=True) == "-0.005"


def test_default_rows_are_powers_of_four_and_the_last_count():
    assert default_at([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]) == [1, 4, 16, 64, 256, 1024]
    assert default_at([1, 2, 4, 8, 16, 32, 64, 6604]) == [1, 4, 16, 64, 6604]
    assert default_at([0, 1, 2, 4]) == [0, 1, 4]  # likelihoods' base point (0 examples) is kept


def test_table_has_one_row_per_count_and_one_column_per_rule():
    lines = table(curve_record(), [4, 32]).splitlines()
    assert lines[0] == "| examples per head | base | SFT | Likra | Base-Likra |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[2] == ("| 4 | 0.250 [0.250, 0.250] | 0.254 [0.244, 0.264] | 0.340 [0.320, 0.360] "
                        "| 0.200 [0.190, 0.210] |")
    assert lines[3].startswith("| 32 | ") and len(lines) == 4


def test_negatives_view_puts_sft_last_and_the_base_likra_view_keeps_only_that_rule():
    rows = [summary_row(8, 0.4, kind="near-miss", rule="likra"),
            summary_row(8, 0.2, kind="near-miss", rule="base-likra"),
            summary_row(8, 0.3, kind="sft", rule="sft"), summary_row(8, 0.35, kind="irrelevant", rule="likra"),
            summary_row(8, 0.22, kind="irrelevant", rule="base-likra")]
    record = {"experiment": "negatives", "summary": rows}
    assert table(record).splitlines()[::2] == ["| examples per head | Likra, near-miss | Likra, irrelevant | SFT |",
                                                "| 8 | 0.400 | 0.350 | 0.300 |"]
    assert table(record, view="base-likra").splitlines()[2] == "| 8 | 0.200 | 0.220 |"


def test_a_missing_point_is_a_dash_not_a_shifted_row():
    record = {"experiment": "objectives", "summary": [
        summary_row(4, 0.3, method="Likra"), summary_row(8, 0.4, method="Likra"), summary_row(8, 0.28, method="dpo")]}
    assert table(record, [4, 8]).splitlines()[2:] == ["| 4 | 0.300 | - |", "| 8 | 0.400 | 0.280 |"]


def test_mass_rows_are_count_and_head_with_signed_changes():
    rows = [summary_row(8, 0.4, head=h, answer=a) for h in ("pos", "neg") for a in ("correct", "unrelated")]
    lines = table({"experiment": "mass", "summary": rows}).splitlines()
    assert lines[0] == "| examples per head | head | correct | unrelated |"
    assert lines[2:] == ["| 8 | positive | +0.400 | +0.400 |", "| 8 | negative | +0.400 | +0.400 |"]


def test_objectives_steps_view():
    record = {"experiment": "objectives", "summary": [], "steps": [
        {"method": "Likra", "largest_jump": [64, 128], "jump": {"mean": 0.05, "low": 0.01, "high": 0.09},
         "critical": {"mean": 0.1, "low": NAN, "high": NAN}}]}
    assert table(record, view="steps").splitlines()[2] == "| Likra | 64 -> 128 | +0.050 [+0.010, +0.090] | +0.100 | - |"


def test_unknown_view_is_a_clear_error():
    with pytest.raises(ConfigError, match="no markdown view 'nope' for experiment 'curve'.*curve/default"):
        table(curve_record(), view="nope")


def test_refresh_renders_stale_blocks_again_and_leaves_the_rest(tmp_path, capsys):
    (tmp_path / "results" / "exp").mkdir(parents=True)
    (tmp_path / "results" / "exp" / "curve.json").write_text(json.dumps(curve_record()))
    doc = tmp_path / "RESULTS.md"
    prose = "Some prose | with a pipe.\n\n"
    doc.write_text(prose + "<!-- record:exp/curve at=4 -->\n| stale |\n<!-- /record -->\n\nmore prose\n")
    assert main([str(doc)]) == 0
    text = doc.read_text()
    assert text == (prose + "<!-- record:exp/curve at=4 -->\n" + table(curve_record(), [4])
                    + "<!-- /record -->\n\nmore prose\n")
    assert "1 record and 0 claims block(s); updated" in capsys.readouterr().out
    assert refresh(text, tmp_path / "results") == text  # a fresh document is left as it is


def test_objectives_compare_view_pairs_each_method_with_sft_and_likra_by_seed_and_question():
    from likra.experiments.stats import crossed_interval, mean_interval

    outcomes = {("Likra", 0): "1101", ("Likra", 1): "1110", ("SFT", 0): "1000", ("SFT", 1): "0100",
                ("dpo", 0): "1100", ("dpo", 1): "1100"}
    rows = [{"seed": s, "method": m, "examples": 8, "accuracy": b.count("1") / 4} for (m, s), b in outcomes.items()]
    summary = [summary_row(8, *mean_interval([r["accuracy"] for r in rows if r["method"] == m]), method=m)
               for m in ("Likra", "SFT", "dpo")]
    record = {"experiment": "objectives", "summary": summary, "rows": rows, "questions": {
        "ids": ["a", "b", "c", "d"],
        "correct": [{"seed": s, "method": m, "examples": 8, "correct": b} for (m, s), b in outcomes.items()]}}
    lines = table(record, view="compare").splitlines()
    assert lines[0] == "| method | examples | accuracy | minus SFT | minus Likra |"
    dpo = lines[4].split(" | ")[1:]  # without the examples column
    m, lo, hi = mean_interval([0.5 - 0.25, 0.5 - 0.25])
    _, qlo, qhi = crossed_interval([[0, 1, 0, 0], [1, 0, 0, 0]])
    assert (lines[4].startswith("| dpo | 8 | ")
            and dpo[2] == f"{m:.3f} [{lo:.3f}, {hi:.3f}]; with questions [{qlo:.3f}, {qhi:.3f}]")
    assert lines[3].split(" | ")[3] == "-"  # SFT against itself


def test_negatives_compare_view_against_sft_and_near_miss_one_seed_over_questions_only():
    from likra.experiments.stats import mean_interval

    outcomes = {("near-miss", "likra"): "1110", ("sft", "sft"): "1000", ("mined", "likra"): "1100",
                ("near-miss", "base-likra"): "0000"}
    rows = [{"seed": 0, "kind": k, "rule": r, "examples": 8, "accuracy": b.count("1") / 4}
            for (k, r), b in outcomes.items()]
    summary = [summary_row(8, r["accuracy"], kind=r["kind"], rule=r["rule"]) for r in rows]
    record = {"experiment": "negatives", "summary": summary, "rows": rows,
              "questions": {"ids": list("abcd"), "correct": [
        {"seed": 0, "kind": k, "rule": r, "examples": 8, "correct": b} for (k, r), b in outcomes.items()]}}
    lines = table(record, view="compare").splitlines()
    assert lines[0] == "| negatives | examples | accuracy | minus SFT | minus near-miss |"
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| Likra, near-miss", "| SFT", "| Likra, mined"]
    _, lo, hi = mean_interval([0, 1, 0, 0])  # mined - SFT per question: one seed, so over questions only
    assert lines[4].split(" | ")[3] == f"0.250 (one seed; over questions only [{lo:.3f}, {hi:.3f}])"


def test_a_series_that_ends_earlier_is_compared_at_its_own_last_count():
    # a mined head that saw fewer examples ends at 4, where the others have a point too
    outcomes = {("near-miss", "likra", 4): "1100", ("sft", "sft", 4): "1000", ("mined", "likra", 4): "1110",
                ("near-miss", "likra", 8): "1110", ("sft", "sft", 8): "1000"}
    rows = [{"seed": 0, "kind": k, "rule": r, "examples": n, "accuracy": b.count("1") / 4}
            for (k, r, n), b in outcomes.items()]
    summary = [summary_row(r["examples"], r["accuracy"], kind=r["kind"], rule=r["rule"]) for r in rows]
    record = {"experiment": "negatives", "summary": summary, "rows": rows,
              "questions": {"ids": list("abcd"), "correct": [
        {"seed": 0, "kind": k, "rule": r, "examples": n, "correct": b} for (k, r, n), b in outcomes.items()]}}
    mined = table(record, view="compare").splitlines()[-1].split(" | ")
    assert mined[:3] == ["| Likra, mined", "4", "0.750"]
    # minus SFT, near-miss at 4
    assert mined[3].startswith("0.500 (one seed") and mined[4].startswith("0.250 (one seed")
    assert table(record, [4, 8]).splitlines()[3] == "| 8 | 0.750 | - | 0.250 |"  # the summary view: a dash at 8


def test_columns_with_other_seed_counts_say_how_many():
    summary = [{"kind": "near-miss", "rule": "likra", "examples": 64, "mean": 0.3, "low": 0.2, "high": 0.4, "seeds": 3},
               {"kind": "mined", "rule": "likra", "examples": 64, "mean": 0.25, "low": math.nan, "high": math.nan,
                "seeds": 1},
               {"kind": "sft", "rule": "sft", "examples": 64, "mean": 0.26, "low": 0.25, "high": 0.27, "seeds": 3}]
    head = table({"experiment": "negatives", "summary": summary}, [64]).splitlines()[0]
    assert head == "| examples per head | Likra, near-miss (3 seeds) | Likra, mined (1 seed) | SFT (3 seeds) |"
    same = [dict(r, seeds=3) for r in summary]
    assert "seed" not in table({"experiment": "negatives", "summary": same}, [64]).splitlines()[0]


def test_a_damaged_record_is_a_clear_error_naming_the_file(tmp_path):
    from likra.errors import ArtifactError
    from likra.experiments.markdown import render_block

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "curve.json").write_text('{"summary": [')
    with pytest.raises(ArtifactError, match="curve.json"):
        render_block(tmp_path, "x/curve", "")
