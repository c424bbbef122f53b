"""The in-fold regime on a tiny random model: fold heads never see their fold's questions, each case is
scored by its own fold's heads, and the report is verify_eval's with the regime recorded."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from likra.config import TrainConfig
from likra.models.likra_model import load_likra
from likra.models.loading import load_model
from likra.paths import data_root
from likra.verifier.cases import question_folds, truthfulqa_cases
from likra.verifier.features import score_cases
from likra.verifier.infold import merge_scores, training_rows, verify_in_fold

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir() or not (data_root() / "truthfulqa").is_dir(),
                                reason="benchmark data not found")


@pytest.fixture(scope="module")
def done(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("infold")
    cases = truthfulqa_cases(limit=6)
    loaded = load_model(str(model_dir))
    report = verify_in_fold(loaded, cases, 2, out, model=str(model_dir),
                            train=TrainConfig(lr=1e-2, batch_size=2, seed=1, curve=False), data_seed=1,
                            progress=False)
    return report, out, cases, loaded


def test_training_rows_hold_the_best_answer_then_only_incorrect_ones():
    cases = truthfulqa_cases(limit=3)
    rows = training_rows(cases.cases, {"0", "2"})
    assert [r["id"] for r in rows] == ["0", "2"]
    for r in rows:
        mine = [c for c in cases.cases if c.qid == r["id"]]
        assert r["answer"] == 0 and r["choices"][0] == next(c.answer for c in mine if c.is_best)
        assert r["choices"][1:] == [c.answer for c in mine if not c.is_correct]


def test_no_fold_trains_on_its_own_questions(done):
    report, out, cases, _ = done
    fold_of = question_folds(cases.cases, 2, 0)
    for f in range(2):
        trained = {json.loads(line)["id"] for line in (out / "folds" / f"fold-{f}.jsonl").read_text().splitlines()}
        mine = {c.qid for c, k in zip(cases.cases, fold_of) if k == f}
        assert trained and mine and not trained & mine
        assert trained | mine == {c.qid for c in cases.cases}
        used = json.loads((out / f"fold-{f}" / "run.json").read_text())["data"]
        assert used["used"] == len(trained)
    assert [r["train_questions"] for r in report["regime"]["runs"]] == [3, 3]


def test_each_case_is_scored_by_its_own_folds_heads(done):
    report, out, cases, loaded = done
    fold_of = question_folds(cases.cases, 2, 0)
    rows = list(csv.DictReader((out / "cases.csv").open()))
    assert [r["answer"] for r in rows] == [c.answer for c in cases.cases]
    per_fold = []
    for f in range(2):
        idx = [i for i, k in enumerate(fold_of) if k == f]
        direct = score_cases(load_likra(run_dir=out / f"fold-{f}", loaded=loaded), [cases.cases[i] for i in idx],
                             progress=False)
        per_fold.append(direct.loglik["neg"])
        for j, i in enumerate(idx):
            assert int(rows[i]["fold"]) == f
            for h in ("base", "pos", "neg"):
                assert float(rows[i][f"loglik_{h}"]) == pytest.approx(direct.loglik[h][j], abs=1e-6)
    # the two folds' heads are different heads: scoring fold 0's cases with fold 1's heads differs
    other = score_cases(load_likra(run_dir=out / "fold-1", loaded=loaded),
                        [c for c, k in zip(cases.cases, fold_of) if k == 0], progress=False)
    assert not np.allclose(other.loglik["neg"], per_fold[0])


def test_report_is_verify_evals_with_the_regime(done):
    report, out, _, _ = done
    assert report["regime"]["name"] == "in-fold" and report["regime"]["folds"] == 2
    assert set(report["results"]) == {"base", "pmi", "sft", "likra", "base-likra"}
    for r in report["results"].values():
        assert 0 <= r["auroc"] <= 1 and r["calibration"]["mode"] == "cross-fit"
    assert json.loads((out / "verify.json").read_text())["results"] == json.loads(json.dumps(report["results"]))
    assert (out / "reliability.png").stat().st_size > 0


def test_rerun_reuses_the_fold_runs(done, model_dir):
    report, out, cases, loaded = done
    weights = lambda: sorted((p, p.stat().st_mtime_ns) for p in out.glob("fold-*/*/checkpoint-*/*.safetensors"))  # noqa: E731
    stamps = weights()
    assert len(stamps) == 4  # two folds, two heads, the final checkpoint only
    again = verify_in_fold(loaded, cases, 2, out, model=str(model_dir),
                           train=TrainConfig(lr=1e-2, batch_size=2, seed=1, curve=False), data_seed=1,
                           progress=False)
    assert again["results"] == report["results"]
    assert weights() == stamps  # no head trained again


def test_merge_puts_each_fold_back_in_place():
    from likra.verifier.features import CaseScores

    def part(vals):
        a = np.array(vals, dtype=float)
        return CaseScores({"base": a}, a * 2, np.array([1] * len(a)), np.array([2] * len(a)), np.array([3] * len(a)))

    m = merge_scores([([2, 0], part([5.0, 7.0])), ([1], part([9.0]))], 3)
    assert m.loglik["base"].tolist() == [7.0, 9.0, 5.0] and m.unconditional.tolist() == [14.0, 18.0, 10.0]


def cli(*argv) -> int:
    import argparse

    from likra.cli_args import common_options
    from likra.verifier.command import add_parser

    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"), common_options(top=False))
    args = p.parse_args(["verify", "--quiet", *argv])
    return args.func(args)


@pytest.mark.parametrize("argv, message", [
    (["--run", "somewhere", "--out", "x"], "not --run"),
    (["--model", "m"], "--out"),
    (["--model", "m", "--out", "x", "--folds", "1"], "at least 2"),
    (["--model", "m", "--out", "x", "--save", "c.json"], "--save belong"),
    (["--model", "m", "--out", "x", "--question", "q"], "--question belong"),
])
def test_cli_in_fold_refuses_bad_options_before_loading(argv, message):
    from likra.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        cli("in-fold", *argv)


def test_cli_in_fold_writes_the_report(model_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert cli("in-fold", "--model", str(model_dir), "--out", str(out), "--folds", "2", "--limit", "4",
               "--lr", "0.01", "--batch-size", "2") == 0
    report = json.loads((out / "verify.json").read_text())
    assert report["regime"]["train"]["lr"] == 0.01 and report["cases"]["n_questions"] == 4
    assert "base-likra" in capsys.readouterr().out
    with pytest.raises(Exception, match="--lr belong"):
        cli("calibrate", "--model", str(model_dir), "--save", str(tmp_path / "c.json"), "--lr", "0.1")
