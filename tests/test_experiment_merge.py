"""--keep-from: a record grown from an earlier one equals the record of one run over all its seeds and
kinds; rows both sides have come from the runs and are compared; a record of other settings is refused
before any model loads."""

from __future__ import annotations

import json
import shutil

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")

SAME = ("rows", "summary", "questions", "seeds")


@pytest.fixture(scope="module")
def folders(model_dir, tmp_path_factory):
    """Three folders of the same settings: seeds 0 and 1 at once ("both"), seed 0 alone, seed 1 alone."""
    root = tmp_path_factory.mktemp("grow")
    args = ["--model", str(model_dir), "--n-train", "8", "--limit", "5", "--batch-size", "4", "--lr", "1e-2",
            "--at", "4,8", "--weights", "0,0.5,1", "--negative-kinds", "near-miss,irrelevant"]
    for name, seeds in (("both", "0,1"), ("zero", "0"), ("one", "1")):
        assert main(["--quiet", "experiment", "curve", *args, "--seeds", seeds, "--out", str(root / name)]) == 0
    return root, args


def run(folders, name, folder, seeds, *extra) -> int:
    root, args = folders
    return main(["--quiet", "experiment", name, *args, "--seeds", seeds, "--out", str(root / folder), *extra])


def load(path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", ["curve", "weights", "likelihoods"])
def test_a_grown_record_equals_one_run_over_all_seeds(folders, name, capsys):
    """Seed 1 run here, seed 0 kept from the other folder's record: rows, summary, per-question outcomes
    and seeds equal those of one run of both seeds, and so do the CSVs and what is derived from the rows."""
    root, _ = folders
    assert run(folders, name, "both", "0,1") == 0 and run(folders, name, "zero", "0") == 0
    assert run(folders, name, "one", "1", "--keep-from", str(root / "zero" / f"{name}.json")) == 0
    assert f"kept from {root / 'zero' / name}.json" in capsys.readouterr().out
    grown, whole = load(root / "one" / f"{name}.json"), load(root / "both" / f"{name}.json")
    assert all(grown.get(k) == whole.get(k) for k in SAME) and grown["seeds"] == [0, 1]
    derived = ("gain", "peak_weight")  # computed from the rows after they grow
    assert {k: grown.get(k) for k in derived} == {k: whole.get(k) for k in derived}
    assert (root / "one" / f"{name}-summary.csv").read_text() == (root / "both" / f"{name}-summary.csv").read_text()
    assert (root / "one" / f"{name}.csv").read_text() == (root / "both" / f"{name}.csv").read_text()
    kept = grown["kept_from"]
    assert kept["seeds"] == [0] and kept["rows"]["kept"] == len(load(root / "zero" / f"{name}.json")["rows"])
    assert kept["rows"]["recomputed"] == 0 and grown["config"]["seeds"] == [0, 1]


def test_negatives_grow_by_a_kind(folders):
    """near-miss kept from a record, irrelevant trained here: the record of both kinds run at once."""
    root, _ = folders
    assert run(folders, "negatives", "both", "0") == 0
    whole = load(root / "both" / "negatives.json")
    assert run(folders, "negatives", "zero", "0", "--negative-kinds", "near-miss") == 0
    kept = root / "near-miss.json"
    shutil.copy(root / "zero" / "negatives.json", kept)
    assert run(folders, "negatives", "zero", "0", "--negative-kinds", "irrelevant", "--keep-from", str(kept)) == 0
    grown = load(root / "zero" / "negatives.json")
    key = lambda r: (r["seed"], r["kind"], r["rule"], r["examples"])  # noqa: E731
    assert sorted(grown["rows"], key=key) == sorted(whole["rows"], key=key)
    assert sorted(grown["summary"], key=lambda r: (r["kind"], r["rule"], r["examples"])) == \
        sorted(whole["summary"], key=lambda r: (r["kind"], r["rule"], r["examples"]))
    assert {r["kind"] for r in grown["rows"]} == {"near-miss", "sft", "irrelevant"}
    assert grown["config"]["negative_kinds"] == ["near-miss", "irrelevant"]  # the config describes the rows


def test_rows_both_sides_have_come_from_the_runs_and_are_compared(folders, tmp_path, capsys):
    """The kept record holds seed 1 too: its rows are recomputed here and compared. The same seed and
    settings in another folder give the same numbers (0 differing); a tampered number is counted and logged."""
    root, _ = folders
    assert run(folders, "curve", "both", "0,1") == 0
    assert run(folders, "curve", "one", "1", "--keep-from", str(root / "both" / "curve.json")) == 0
    kept = load(root / "one" / "curve.json")["kept_from"]["rows"]
    n1 = sum(r["seed"] == 1 for r in load(root / "both" / "curve.json")["rows"])
    assert kept["recomputed"] == n1 and kept["recomputed_differing"] == 0

    tampered = load(root / "both" / "curve.json")
    row = next(r for r in tampered["rows"] if r["seed"] == 1 and r["rule"] == "likra")
    row["accuracy"] += 0.2
    (tmp_path / "curve.json").write_text(json.dumps(tampered))
    capsys.readouterr()
    assert run(folders, "curve", "one", "1", "--keep-from", str(tmp_path / "curve.json")) == 0
    err = capsys.readouterr().err
    grown = load(root / "one" / "curve.json")
    assert grown["kept_from"]["rows"]["recomputed_differing"] == 1
    assert row not in grown["rows"]  # the runs' number is kept, not the record's
    assert "seed=1 examples=1 rule=likra" in err and "differs from the record kept: accuracy" in err


@pytest.mark.parametrize("change,message", [
    (("--limit", "4"), "its limit is 5, this run's is 4"),
    (("--lr", "0.001"), "its lr is 0.01, this run's is 0.001"),
])
def test_a_record_of_other_settings_is_refused_before_any_model_loads(folders, change, message, monkeypatch, capsys):
    import likra.models.loading

    root, args = folders
    assert run(folders, "curve", "zero", "0") == 0
    monkeypatch.setattr(likra.models.loading, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    argv = [change[1] if i > 0 and args[i - 1] == change[0] else a for i, a in enumerate(args)]
    code = main(["--quiet", "experiment", "curve", *argv, "--seeds", "1", "--out", str(root / "other"),
                 "--keep-from", str(root / "zero" / "curve.json")])
    assert code == 2 and message in capsys.readouterr().err and not (root / "other").exists()


def test_a_record_older_than_a_setting_was_made_with_its_default(folders, capsys):
    """A setting added to likra after a record was written is missing from its config: the record was made as
    the setting's default does, so it grows a run with the default and is refused for any other value."""
    root, _ = folders
    assert run(folders, "curve", "zero", "0") == 0
    record = json.loads((root / "zero" / "curve.json").read_text())
    for key in ("own_runs_only", "norm"):
        del record["config"][key]
    (root / "older.json").write_text(json.dumps(record))
    assert run(folders, "curve", "grown", "1", "--keep-from", str(root / "older.json")) == 0
    assert run(folders, "curve", "other", "1", "--norm", "none", "--keep-from", str(root / "older.json")) == 2
    assert "its norm is 'char', this run's is 'none'" in capsys.readouterr().err


@pytest.mark.parametrize("name,kept,message", [
    ("weights", "curve.json", "a record of 'curve', not of 'weights'"),
    ("claims", "curve.json", "claims reads other records"),
    ("curve", "missing.json", "missing.json"),
])
def test_a_wrong_record_is_a_clear_error(folders, name, kept, message, capsys):
    root, _ = folders
    assert run(folders, "curve", "zero", "0") == 0
    assert run(folders, name, "zero", "0", "--keep-from", str(root / "zero" / kept)) == 2
    assert message in capsys.readouterr().err


def test_outcomes_over_other_questions_are_refused():
    from likra.errors import ConfigError
    from likra.experiments.merge import grow

    kept = {"rows": [], "questions": {"ids": ["a", "b"], "correct": []}}
    new = {"questions": {"ids": ["a", "c"], "correct": [{"seed": 0, "examples": 1, "correct": "10"}]}}
    with pytest.raises(ConfigError, match="other test questions"):
        grow(kept, "k.json", [], new, ("rule", "examples"))


def test_per_question_payloads_join_by_every_other_key():
    """mass keeps per-question values under "separation": joined like the outcomes, seed by seed."""
    from likra.experiments.merge import grow

    old = {"rows": [{"seed": 0, "head": "pos", "answer": "correct", "examples": 8, "delta_loglik": 0.1}],
           "questions": {"ids": ["q1"], "separation": [{"seed": 0, "examples": 8, "values": [0.5]}]}}
    new_rows = [{"seed": 1, "head": "pos", "answer": "correct", "examples": 8, "delta_loglik": 0.2}]
    new = {"questions": {"ids": ["q1"], "separation": [{"seed": 1, "examples": 8, "values": [0.7]}]}}
    rows, extra, report = grow(old, "k.json", new_rows, new, ("head", "answer", "examples"))
    assert [r["seed"] for r in rows] == [0, 1]
    assert extra["questions"]["separation"] == old["questions"]["separation"] + new["questions"]["separation"]
    assert report["rows"] == {"kept": 1, "recomputed": 0, "recomputed_differing": 0}


def test_a_grown_record_keeps_the_order_of_the_kept_one():
    """Recomputing the first kind and the last (runs here) but not the middle one (kept) must not reorder
    the record's series: tables and plots list kinds in the order of their rows."""
    from likra.experiments.merge import grow

    row = lambda seed, kind, acc: {"seed": seed, "kind": kind, "examples": 8, "accuracy": acc}  # noqa: E731
    old = {"rows": [row(0, "near-miss", 0.4), row(0, "irrelevant", 0.3), row(0, "hardest", 0.35),
                    row(1, "near-miss", 0.41)]}
    new = [row(0, "near-miss", 0.4), row(0, "hardest", 0.36), row(0, "easiest", 0.37), row(2, "near-miss", 0.42)]
    rows, _, report = grow(old, "k.json", new, {}, ("kind", "examples"))
    assert [(r["seed"], r["kind"]) for r in rows] == [(0, "near-miss"), (0, "irrelevant"), (0, "hardest"),
                                                     (0, "easiest"), (1, "near-miss"), (2, "near-miss")]
    assert rows[2]["accuracy"] == 0.36  # the runs' number, in the kept row's place
    assert report["rows"] == {"kept": 2, "recomputed": 2, "recomputed_differing": 1}
