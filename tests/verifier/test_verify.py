"""The verifier end to end on a tiny random model: verify_eval's report and files, `likra verify` on one
candidate and on a JSONL file, and `likra verify calibrate` writing the run's calibration."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest

import likra
from likra.cli_args import common_options
from likra.errors import ConfigError, DataError
from likra.paths import data_root
from likra.verifier.answers import verify_answers
from likra.verifier.calibration import Calibration, load_calibration, sigmoid
from likra.verifier.cases import truthfulqa_cases
from likra.verifier.command import add_parser
from likra.verifier.features import score_cases
from likra.verifier.run import verify_eval

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir() or not (data_root() / "truthfulqa").is_dir(),
                                reason="benchmark data not found")
Q, ANSWERS = "What gives us light?", ["the sun", "a rock", "the moon"]


@pytest.fixture(scope="module")
def run(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "run"
    likra.train(out, model=str(model_dir), n_train=6, lr=1e-2, seed=3, progress=False)
    return out


@pytest.fixture(scope="module")
def model(run, model_dir):
    return likra.load(run, model=str(model_dir)).model


@pytest.fixture(scope="module")
def cases():
    return truthfulqa_cases(limit=6)


@pytest.fixture(scope="module")
def evaluated(model, cases, tmp_path_factory):
    """One cross-fitted evaluation, shared: the report and the folder it was written to."""
    out = tmp_path_factory.mktemp("eval")
    return verify_eval(model, cases, weight=0.5, folds=2, out=out, progress=False), out


def cli(*argv) -> int:
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"), common_options(top=False))
    args = p.parse_args(["verify", "--quiet", *argv])
    return args.func(args)


def test_scores_match_likra_score(model):
    """One engine, one rule: the verifier's Likra score is `likra score`'s, answer by answer."""
    got = verify_answers(model, [(Q, ANSWERS)], weight=0.5)[0]
    ref = likra.score_candidates(model, Q, ANSWERS, 0.5)
    assert [a["score"] for a in got["answers"]] == pytest.approx([a["score"] for a in ref["answers"]], abs=1e-6)
    assert "probability" not in got["answers"][0] and "note" in got and got["rule"] == "likra"


def test_verify_eval_report_and_files(evaluated, cases):
    rep, tmp_path = evaluated
    assert list(rep["results"]) == ["base", "pmi", "sft", "likra", "base-likra"]
    assert rep["cases"]["n_questions"] == 6 and rep["config"]["fold_seed"] == 0 and rep["versions"]["torch"]
    assert rep["model"]["checkpoint"] == 6
    for r in rep["results"].values():
        assert 0 <= r["auroc"] <= 1 and 0 <= r["mc1"] <= 1 and 0 < r["mc2"] < 1 and r["mc1_questions"] == 6
        cal = r["calibration"]
        assert cal["mode"] == "cross-fit" and sum(b["count"] for b in cal["reliability"]) == len(cases.cases)
    assert {p.name for p in tmp_path.iterdir()} == {
        "verify.json", "cases.csv", "reliability.png", *(f"calibration-{r}.json" for r in rep["results"])}
    rows = list(csv.DictReader(open(tmp_path / "cases.csv", encoding="utf-8")))
    assert len(rows) == len(cases.cases) and {r["qid"] for r in rows} == {c.qid for c in cases.cases}
    # the table holds what the report is computed from: the Likra score from the raw log-likelihoods
    r0 = rows[0]
    expect = (float(r0["loglik_pos"]) - 0.5 * float(r0["loglik_neg"])) / int(r0["n_chars"])
    assert float(r0["likra_score"]) == pytest.approx(expect)
    saved = json.loads((tmp_path / "verify.json").read_text())
    assert saved["results"]["likra"]["auroc"] == rep["results"]["likra"]["auroc"]
    assert (tmp_path / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_verify_eval_with_a_fixed_calibration(model, cases, evaluated):
    rep, out = evaluated
    cal = load_calibration(out / "calibration-likra.json")
    assert cal.run == str(model.run_dir) and cal.checkpoint == 6 and cal.n_questions == 6 and cal.weight == 0.5
    assert cal.threshold == rep["results"]["likra"]["calibration"]["threshold"]
    fixed = verify_eval(model, cases, ["likra", "base"], 0.5, calib=cal, progress=False)
    assert fixed["results"]["likra"]["calibration"]["mode"] == "fixed"
    assert fixed["results"]["base"]["calibration"] is None
    assert fixed["results"]["likra"]["auroc"] == pytest.approx(rep["results"]["likra"]["auroc"])
    with pytest.raises(ConfigError, match="weight"):
        verify_eval(model, cases, ["likra"], 2.0, calib=cal, progress=False)


def test_pmi_is_conditional_minus_answer_after_answer_prompt(model, cases):
    """PMI = log P(a | "Question: q\nAnswer:") - log P(a | "Answer:"), checked against `likra score`
    scoring each request on its own (other grouping, same numbers)."""
    some = cases.cases[:4]
    sc = score_cases(model, some, progress=False)
    for i, c in enumerate(some):
        cond = likra.score_candidates(model, c.question, [c.answer], norm="none", rule="base")
        uncond = likra.score_candidates(model, c.question, [c.answer], norm="none", rule="base", template="Answer:")
        expected = cond["answers"][0]["loglik"]["base"] - uncond["answers"][0]["loglik"]["base"]
        assert sc.scores("pmi", norm="none")[i] == pytest.approx(expected, abs=1e-4)
        assert sc.scores("pmi")[i] == pytest.approx(expected / len(c.answer), abs=1e-5)


def test_cli_calibrate_then_verify_one_candidate(run, model_dir, tmp_path, capsys):
    assert cli("calibrate", "--run", str(run), "--model", str(model_dir), "--limit", "4", "--folds", "2",
               "--out", str(tmp_path / "rep")) == 0
    out = capsys.readouterr().out
    assert "AUROC" in out and (run / "calibration.json").is_file()
    cal = load_calibration(run / "calibration.json")
    assert cal.rule == "likra" and cal.n_questions == 4

    assert cli("--run", str(run), "--model", str(model_dir), "--question", Q, "--answers", "the sun") == 0
    (line,) = capsys.readouterr().out.splitlines()
    res = json.loads(line)
    (ans,) = res["answers"]
    # a single candidate: its probability is the calibration of its own score, no softmax involved
    assert ans["probability"] == pytest.approx(float(sigmoid(np.array(cal.a * ans["score"] + cal.b))))
    assert ans["flagged"] == (ans["probability"] < cal.threshold) and res["threshold"] == cal.threshold
    # and adding other candidates leaves it as it is
    both = verify_answers(likra.load(run, model=str(model_dir)), [(Q, ["the sun", "a rock"])], cal)[0]  # API wrapper
    assert both["answers"][0]["probability"] == pytest.approx(ans["probability"], abs=1e-6)

    with pytest.raises(ConfigError, match="--weight 2"):
        cli("--run", str(run), "--model", str(model_dir), "--question", Q, "--answers", "x", "--weight", "2")
    assert cli("--run", str(run), "--model", str(model_dir), "--question", Q, "--answers", "x", "--no-calibration") == 0
    assert "probability" not in json.loads(capsys.readouterr().out)["answers"][0]


def test_cli_jsonl_input(run, model_dir, tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"question": Q, "answers": ANSWERS}) + "\n"
                    + json.dumps({"question": "Which is a gas?", "answers": ["oxygen"]}) + "\n")
    cal = tmp_path / "cal.json"
    Calibration("base-likra", 1.0, "char", 1.5, 2.0, 0.5).save(cal)
    assert cli("--run", str(run), "--model", str(model_dir), "--input", str(path), "--calibration", str(cal)) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [len(x["answers"]) for x in lines] == [3, 1]
    assert all("probability" in a and "flagged" in a for x in lines for a in x["answers"])
    assert all(x["rule"] == "base-likra" for x in lines)


def test_cli_bad_input_fails_before_any_model_loads(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"question": Q, "answers": ["a"]}) + "\n" + json.dumps({"question": Q}) + "\n")
    # the model does not exist: reaching it would be a different error
    with pytest.raises(DataError, match=rf"{path}:2: .*'answers'"):
        cli("--model", str(tmp_path / "no-model"), "--input", str(path))
    with pytest.raises(ConfigError, match="--question and --answers"):
        cli("--model", str(tmp_path / "no-model"), "--question", Q)
    with pytest.raises(ConfigError, match="--save"):
        cli("calibrate", "--model", str(tmp_path / "no-model"))
    with pytest.raises(ConfigError, match="--folds belong"):
        cli("--model", str(tmp_path / "no-model"), "--question", Q, "--answers", "a", "--folds", "3")
    with pytest.raises(ConfigError, match="--question belong"):
        cli("calibrate", "--run", str(tmp_path), "--question", Q)
    with pytest.raises(ConfigError, match="--folds: at least 2"):
        cli("calibrate", "--run", str(tmp_path), "--folds", "0")


def test_cli_generate_reranks_sampled_answers_repeatably(run, model_dir, capsys):
    """--generate K: sampled answers (seeded, one line each, none repeating a given one) ranked with the given."""
    outs = []
    for seed in (0, 0):
        assert cli("--run", str(run), "--model", str(model_dir), "--question", Q, "--answers", ANSWERS[0],
                   "--generate", "4", "--sample-seed", str(seed), "--no-calibration") == 0
        outs.append(json.loads(capsys.readouterr().out.splitlines()[0]))
    first = outs[0]
    answers = [a["answer"] for a in first["answers"]]
    assert answers[0] == ANSWERS[0] and 1 <= len(answers) <= 5 and all("\n" not in a for a in answers)
    assert len({a.casefold() for a in answers}) == len(answers)
    assert sorted(first["ranking"]) == list(range(len(answers)))
    scores = [first["answers"][i]["score"] for i in first["ranking"]]
    assert scores == sorted(scores, reverse=True)
    assert outs[0] == outs[1]  # same seed, same candidates and scores
