"""Each experiment from the CLI in a tiny configuration: the files it writes, their columns, monotone
example counts, intervals that contain the mean, and agreement with `likra report`."""

from __future__ import annotations

import csv
import json
import math

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def exp(model_dir, tmp_path_factory):
    """One experiment folder; `curve` first, the others reuse its runs."""
    out = tmp_path_factory.mktemp("exp") / "tiny"
    args = ["--model", str(model_dir), "--seeds", "0,1", "--n-train", "8", "--limit", "5", "--batch-size", "4",
            "--lr", "1e-2", "--at", "4,8", "--weights", "0,0.5,1,1.5", "--negative-kinds", "near-miss,irrelevant",
            "--out", str(out)]
    assert main(["--quiet", "experiment", "curve", *args]) == 0
    return out, args


def read(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_curve_files_columns_and_intervals(exp):
    out, _ = exp
    for name in ("curve.csv", "curve-summary.csv", "curve.json", "curve.png"):
        assert (out / name).stat().st_size > 0
    rows = read(out / "curve.csv")
    assert set(rows[0]) == {"seed", "examples", "rule", "accuracy", "low", "high", "n"}
    for seed in ("0", "1"):
        examples = [int(r["examples"]) for r in rows if r["seed"] == seed and r["rule"] == "likra"]
        assert examples == sorted(examples) == [1, 2, 4, 8]
    summary = read(out / "curve-summary.csv")
    assert {r["rule"] for r in summary} == {"base", "sft", "likra", "base-likra"}
    for r in summary:
        assert int(r["seeds"]) == 2 and float(r["low"]) <= float(r["mean"]) <= float(r["high"])
        per_seed = [float(x["accuracy"]) for x in rows if (x["rule"], x["examples"]) == (r["rule"], r["examples"])]
        assert float(r["mean"]) == pytest.approx(sum(per_seed) / 2)
    record = json.loads((out / "curve.json").read_text())
    assert record["config"]["seeds"] == [0, 1] and "torch" in record["versions"]
    kept = record["questions"]  # per-question outcomes: what each accuracy counts, question by question
    assert len(kept["ids"]) == 5 and len(kept["correct"]) == 2 * 4 * 4
    for e in kept["correct"]:
        acc = next(float(r["accuracy"]) for r in rows
                   if (int(r["seed"]), r["rule"], int(r["examples"])) == (e["seed"], e["rule"], e["examples"]))
        assert e["correct"].count("1") / 5 == pytest.approx(acc)
    tables = (out / "curve.md").read_text().split("\n\n")  # the summary at a glance, then each rule compared
    assert tables[1].startswith("| rule | examples | accuracy | minus base | minus SFT |")
    md = tables[0].splitlines()  # rows 1, 4 and the last count, 8
    assert md[0] == "| examples per head | base | SFT | Likra | Base-Likra |"
    assert [line.split(" | ")[0] for line in md[2:]] == ["| 1", "| 4", "| 8"]
    likra8 = next(r for r in summary if (r["rule"], r["examples"]) == ("likra", "8"))
    assert md[-1].split(" | ")[3] == (f"{float(likra8['mean']):.3f} "
                                      f"[{float(likra8['low']):.3f}, {float(likra8['high']):.3f}]")


def test_curve_equals_likra_eval_of_each_run(exp, capsys):
    out, _ = exp
    table = out / "seed-1" / "eval" / "arc_challenge-test" / "scores.csv"
    assert main(["report", str(table), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["results"]
    rows = read(out / "curve.csv")
    for r in rep:
        mine = next(x for x in rows if x["seed"] == "1" and x["rule"] == r["rule"] and x["examples"] == r["checkpoint"])
        assert float(mine["accuracy"]) == pytest.approx(r["acc_norm"])


def test_gain_is_defined_from_the_curve(exp):
    out, _ = exp
    record = json.loads((out / "curve.json").read_text())
    acc = {(r["seed"], r["rule"], r["examples"]): r["accuracy"] for r in record["rows"]}
    gains = record["gain"]
    assert len(gains) == 1 and gains[0]["window"][1] == 2 * gains[0]["window"][0]  # 64->256 absent: largest doubling
    g = gains[0]
    a, b = g["window"]
    for s in g["per_seed"]:
        seed = s["seed"]
        assert s["pos"] == pytest.approx((acc[(seed, "sft", b)] - acc[(seed, "sft", a)]) / (b - a))
        likra_gain = acc[(seed, "likra", b)] - acc[(seed, "likra", a)]
        assert s["neg"] == pytest.approx((likra_gain - (acc[(seed, "sft", b)] - acc[(seed, "sft", a)])) / (b - a))


def test_weights_sweep_equals_likra_report_at_the_same_w(exp, capsys):
    out, args = exp
    assert main(["--quiet", "experiment", "weights", *args]) == 0
    capsys.readouterr()
    rows = read(out / "weights.csv")
    assert {(r["rule"], r["examples"]) for r in rows} == {(r, e) for r in ("likra", "base-likra") for e in ("4", "8")}
    table = out / "seed-0" / "eval" / "arc_challenge-test" / "scores.csv"
    assert main(["report", str(table), "--weights", "0,0.5,1,1.5", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["results"]
    for r in rep:
        if r["rule"] in ("likra", "base-likra") and r["checkpoint"] in ("4", "8"):
            mine = next(x for x in rows if (x["seed"], x["rule"], x["examples"]) == ("0", r["rule"], r["checkpoint"])
                        and float(x["weight"]) == r["weight"])
            assert float(mine["accuracy"]) == pytest.approx(r["acc_norm"])
    record = json.loads((out / "weights.json").read_text())
    peaks = record["peak_weight"]
    assert all(p["mean"] in (0, 0.5, 1, 1.5) or len(p["best_w_per_seed"]) == 2 for p in peaks)
    assert (out / "weights.png").stat().st_size > 0
    # claim (d)'s two weights keep each question's outcome: their mean is the sweep's accuracy there
    kept = record["questions"]["correct"]
    assert {(e["seed"], e["examples"], e["weight"]) for e in kept} == {(s, n, w) for s in (0, 1) for n in (4, 8)
                                                                      for w in (0.0, 1.0)}
    for e in kept:
        row = next(x for x in rows
                   if (x["seed"], x["rule"], x["examples"]) == (str(e["seed"]), "likra", str(e["examples"]))
                   and float(x["weight"]) == e["weight"])
        assert e["correct"].count("1") / len(e["correct"]) == pytest.approx(float(row["accuracy"]))


def test_likelihoods_per_head_along_training(exp):
    out, args = exp
    assert main(["--quiet", "experiment", "likelihoods", *args]) == 0
    summary = read(out / "likelihoods-summary.csv")
    assert {(r["head"], r["answer"]) for r in summary} == {(h, a) for h in ("pos", "neg")
                                                           for a in ("correct", "most likely incorrect")}
    for head in ("pos", "neg"):
        xs = sorted(int(r["examples"]) for r in summary if r["head"] == head and r["answer"] == "correct")
        assert xs == [0, 1, 2, 4, 8]
    assert all(float(r["mean"]) < 0 and not math.isnan(float(r["mean"])) for r in summary)
    # trained with lr 1e-2, the negative head must raise the most likely wrong answer above the base model's
    neg_wrong = {int(r["examples"]): float(r["mean"]) for r in summary
                 if (r["head"], r["answer"]) == ("neg", "most likely incorrect")}
    assert neg_wrong[8] > neg_wrong[0]


def test_negatives_pair_each_kind_with_the_same_positive_head(exp):
    out, args = exp
    assert main(["--quiet", "experiment", "negatives", *args]) == 0
    rows = read(out / "negatives.csv")
    assert {r["kind"] for r in rows} == {"near-miss", "irrelevant", "sft"}
    assert (out / "negatives" / "irrelevant" / "seed-1" / "neg" / "checkpoint-000008").is_dir()
    assert not (out / "negatives" / "irrelevant" / "seed-1" / "pos").exists()
    curve = read(out / "curve.csv")
    for r in rows:  # near-miss is curve's own Likra; the SFT reference is curve's SFT
        if r["kind"] in ("near-miss", "sft") and r["rule"] in ("likra", "sft"):
            mine = next(x for x in curve
                        if (x["seed"], x["rule"], x["examples"]) == (r["seed"], r["rule"], r["examples"]))
            assert float(mine["accuracy"]) == pytest.approx(float(r["accuracy"]))


def test_mined_negatives_come_from_the_seeds_own_training_questions(exp, tmp_path):
    """The `mined` kind: the base model's own wrong answers to exactly the questions the curve's heads
    trained on, never the gold; a neg-only run on them, paired with the same positive head."""
    from likra.config import DataConfig
    from likra.data.questions import normalise_answer
    from likra.pipeline import build_training_data

    out, args = exp
    argv = [a if a != "near-miss,irrelevant" else "mined" for a in args]
    assert main(["--quiet", "experiment", "negatives", *argv]) == 0
    for seed in (0, 1):
        mined = [json.loads(line)
                 for line in (out / "negatives" / "mined" / f"seed-{seed}.jsonl").read_text().splitlines()]
        report = json.loads((out / "negatives" / "mined" / f"seed-{seed}.report.json").read_text())
        trained = {q.id: q for q in build_training_data(DataConfig(n_train=8, seed=seed)).questions}
        assert mined and report["questions"] == 8 and report["with_negatives"] == len(mined)
        for row in mined:
            q = trained[row["id"]]  # one of the curve's own training questions
            assert row["choices"] == list(q.choices) and row["answer"] == q.gold
            assert normalise_answer(q.choices[q.gold]) not in {normalise_answer(n) for n in row["negatives"]}
        run = json.loads((out / "negatives" / "mined" / f"seed-{seed}" / "run.json").read_text())
        assert run["config"]["heads"] == ["neg"] and run["data"]["negative_kind"] == "mined"
        assert run["data"]["used"] == len(mined)
    rows = read(out / "negatives.csv")
    assert {r["kind"] for r in rows} == {"mined"}
    assert all(int(r["examples"]) in (1, 2, 4, 8) for r in rows)  # equal examples seen only


def test_mass_moves_relative_to_the_base_model(exp):
    out, args = exp
    assert main(["--quiet", "experiment", "mass", *args]) == 0
    rows = read(out / "mass.csv")
    assert {r["answer"] for r in rows} == {"correct", "most likely incorrect", "irrelevant", "unrelated"}
    assert {r["head"] for r in rows} == {"pos", "neg"}
    assert sorted({int(r["examples"]) for r in rows}) == [1, 2, 4, 8]
    from likra.scoring.table import ScoreTable

    table = ScoreTable.load(out / "seed-0" / "eval" / "mass-scores.csv")
    assert all(r.gold == (r.choice == 0) for r in table)  # the correct answer is choice 0
    # the negative head, trained hard on near-misses, raises the most likely incorrect answer most
    neg = {r["answer"]: float(r["delta_loglik"]) for r in rows
           if (r["seed"], r["head"], r["examples"]) == ("0", "neg", "8")}
    assert neg["most likely incorrect"] > 0
    record = json.loads((out / "mass.json").read_text())  # (f) per question: its mean is the seed's separation
    for kept in record["questions"]["separation"]:
        at = {(r["head"], r["answer"]): float(r["delta_loglik"]) for r in rows
              if (int(r["seed"]), int(r["examples"])) == (kept["seed"], 8)}
        wrong = "most likely incorrect"
        d = (at[("neg", wrong)] - at[("neg", "correct")]) - (at[("pos", "correct")] - at[("pos", wrong)])
        assert kept["examples"] == 8 and len(kept["values"]) == 5
        assert sum(kept["values"]) / 5 == pytest.approx(d, abs=1e-5)


def test_mass_is_scored_once_and_again_when_its_answers_change(exp, capsys):
    out, args = exp
    assert main(["--quiet", "experiment", "mass", *args]) == 0  # scored by the test above or now
    table, record = (out / "seed-0" / "eval" / f"mass-scores.{ext}" for ext in ("csv", "json"))
    before, saved = table.read_bytes(), json.loads(record.read_text())
    capsys.readouterr()
    assert main(["--quiet", "experiment", "mass", *args]) == 0
    assert f"already evaluated with these settings: {table}" in capsys.readouterr().err
    # a table made from other answer texts (as before unrelated answers were stripped) is scored again
    record.write_text(json.dumps({**saved, "shape": {**saved["shape"], "texts": "other answers"}}))
    table.write_bytes(before.replace(b",0.", b",1."))  # and it is not read: its numbers would be wrong
    assert main(["--quiet", "experiment", "mass", *args]) == 0
    assert f"already evaluated with these settings: {table}" not in capsys.readouterr().err
    assert table.read_bytes() == before and json.loads(record.read_text()) == saved
    # a record written before likra recorded the texts is judged on the rest of its shape
    record.write_text(json.dumps({**saved, "shape": {k: v for k, v in saved["shape"].items() if k != "texts"}}))
    assert main(["--quiet", "experiment", "mass", *args]) == 0
    assert f"already evaluated with these settings: {table}" in capsys.readouterr().err


def test_table_collects_the_final_point_of_every_curve(exp, capsys):
    out, _ = exp
    assert main(["--quiet", "experiment", "table", "--out", str(out.parent)]) == 0
    rows = read(out.parent / "table.csv")
    summary = {r["rule"]: float(r["mean"]) for r in read(out / "curve-summary.csv") if r["examples"] == "8"}
    assert len(rows) == 1 and rows[0]["setting"] == out.name and rows[0]["examples"] == "8"
    for rule in ("base", "sft", "likra", "base-likra"):
        assert float(rows[0][rule]) == pytest.approx(summary[rule])
    assert "| Likra |" in (out.parent / "table.md").read_text()


def test_objectives_share_data_seeds_and_checkpoints_with_likra(exp):
    out, args = exp
    assert main(["--quiet", "experiment", "objectives", *args, "--objectives", "dpo,unlikelihood"]) == 0
    rows = read(out / "objectives.csv")
    assert {r["method"] for r in rows} == {"Likra", "SFT", "Base-Likra", "dpo", "dpo (reward)", "unlikelihood"}
    for method in ("Likra", "dpo", "unlikelihood"):
        assert sorted({int(r["examples"]) for r in rows if r["method"] == method}) == [1, 2, 4, 8]
    curve = read(out / "curve.csv")
    for r in rows:
        if r["method"] == "Likra":
            mine = next(x for x in curve
                        if (x["seed"], x["rule"], x["examples"]) == (r["seed"], "likra", r["examples"]))
            assert float(mine["accuracy"]) == pytest.approx(float(r["accuracy"]))
    record = json.loads((out / "objectives" / "dpo" / "seed-1" / "run.json").read_text())
    assert record["config"]["train"]["objective"]["name"] == "dpo" and record["data"]["used"] == 8
    assert (out / "objectives.png").stat().st_size > 0
    steps = {st["method"]: st for st in json.loads((out / "objectives.json").read_text())["steps"]}
    assert set(steps) == {r["method"] for r in rows}
    for method, st in steps.items():  # the largest rise is one of the curve's doublings, and it is the largest
        a, b = st["largest_jump"]
        mean = {n: sum(float(r["accuracy"]) for r in rows if r["method"] == method and int(r["examples"]) == n) / 2
                for n in (1, 2, 4, 8)}
        assert b == 2 * a and mean[b] - mean[a] == pytest.approx(max(mean[2 * n] - mean[n] for n in (1, 2, 4)))
        assert st["jump"]["low"] <= st["jump"]["mean"] <= st["jump"]["high"]
    md = (out / "objectives.md").read_text()
    assert "| dpo (reward) |" in md.splitlines()[0] and f"| dpo | {steps['dpo']['largest_jump'][0]} -> " in md


def test_rerun_reuses_every_run_and_table(exp, capsys):
    out, args = exp
    before = (out / "seed-0" / "eval" / "arc_challenge-test" / "scores.csv").stat().st_mtime_ns
    assert main(["--quiet", "experiment", "curve", *args]) == 0
    err = capsys.readouterr().err
    assert "already trained" in err and "already evaluated with these settings" in err
    assert (out / "seed-0" / "eval" / "arc_challenge-test" / "scores.csv").stat().st_mtime_ns == before


@pytest.mark.parametrize("flags,message", [
    (["--seeds", "1,1"], "--seeds: experiment.seeds: must not repeat a value"),
    (["--negative-kinds", "near-miss,wrong"], "--negative-kinds: experiment.negative_kinds: must be one of"),
    (["--limit", "0"], "--limit: experiment.limit: must be >= 1"),
    (["--weights", "-1"], "--weights: experiment.weights: must be >= 0"),
])
def test_experiment_config_is_checked_before_any_model_loads(flags, message, tmp_path, capsys, monkeypatch):
    import likra.models.loading

    monkeypatch.setattr(likra.models.loading, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    assert main(["experiment", "curve", "--out", str(tmp_path / "x"), *flags]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_one_loaded_model_serves_many_runs_exactly_as_fresh_loads(model_dir, tmp_path):
    """heads_on re-initialises the same adapters in place: a run trained after another on the same
    loaded model has the adapters it would have on a freshly loaded one."""
    from safetensors.torch import load_file

    from likra.config import DataConfig, ModelConfig, TrainConfig, TrainRunConfig
    from likra.models.loading import load_model
    from likra.pipeline import train_run

    def cfg(seed):
        return TrainRunConfig(model=ModelConfig(spec=str(model_dir)), data=DataConfig(n_train=4, seed=seed),
                              train=TrainConfig(lr=1e-2, batch_size=2, seed=seed))

    shared = load_model(str(model_dir))
    train_run(cfg(0), tmp_path / "a0", progress=False, loaded=shared)
    train_run(cfg(1), tmp_path / "a1", progress=False, loaded=shared)
    train_run(cfg(1), tmp_path / "b1", progress=False)
    for head in ("pos", "neg"):
        a = load_file(str(tmp_path / "a1" / head / "checkpoint-000004" / "adapter_model.safetensors"))
        b = load_file(str(tmp_path / "b1" / head / "checkpoint-000004" / "adapter_model.safetensors"))
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_finished_only_reads_what_is_done_and_lists_the_rest(exp, capsys):
    """--finished-only: a long experiment read while it runs. The curve's runs are finished; the
    unrelated heads were never trained: they are left out and listed, and nothing is trained or scored."""
    out, args = exp
    argv = [a if a != "near-miss,irrelevant" else "near-miss,unrelated" for a in args]
    assert main(["--quiet", "experiment", "negatives", *argv, "--finished-only"]) == 0
    printed = capsys.readouterr().out
    assert not (out / "negatives" / "unrelated").exists()  # no training started
    record = json.loads((out / "negatives.json").read_text())
    assert {r["kind"] for r in record["rows"]} == {"near-miss", "sft"} and record["seeds"] == [0, 1]
    assert [s.split(":")[0] for s in record["skipped"]] == ["unrelated seed 0", "unrelated seed 1"]
    assert "has not started training" in record["skipped"][0] and "left out (not finished): unrelated seed 0" in printed
    curve = {(r["seed"], r["rule"], r["examples"]): r["accuracy"] for r in read(out / "curve.csv")}
    for r in record["rows"]:  # what is there is what a full run gives
        if r["rule"] in ("likra", "sft"):
            assert float(curve[(str(r["seed"]), r["rule"], str(r["examples"]))]) == pytest.approx(r["accuracy"])


def test_finished_only_with_nothing_finished_is_a_clear_error(exp, tmp_path, capsys):
    out, args = exp
    argv = [a if a != str(out) else str(tmp_path / "empty") for a in args]
    assert main(["--quiet", "experiment", "curve", *argv, "--finished-only"]) == 2
    err = capsys.readouterr().err
    assert "nothing in" in err and "is finished yet" in err and "seed 0:" in err
    assert not (tmp_path / "empty" / "seed-0").exists() and not (tmp_path / "empty" / "curve.csv").exists()


def test_finished_only_never_scores_a_table_of_other_settings(exp, capsys):
    out, args = exp
    table = out / "seed-0" / "eval" / "arc_challenge-test" / "scores.csv"
    before = table.stat().st_mtime_ns, (out / "curve.csv").read_text()
    argv = [a if a != "5" else "4" for a in args]  # --limit 4: the saved tables are of 5 questions
    assert main(["--quiet", "experiment", "curve", *argv, "--finished-only"]) == 2
    assert "not scored with these settings yet" in capsys.readouterr().err
    assert (table.stat().st_mtime_ns, (out / "curve.csv").read_text()) == before  # the record is left as it was
    assert not list(table.parent.glob("*.partial.*"))


def test_the_base_pass_is_scored_once_per_folder_and_equals_a_fresh_one(exp, model_dir, tmp_path):
    """Seed 1's base rows come from the folder's base cache (seed 0 scored them): they equal the rows a
    fresh `likra eval` of seed 1 scores itself, to the last bit."""
    from likra.scoring.table import ScoreTable

    out, _ = exp
    cached = [ScoreTable.load(p) for p in (out / "base-scores").glob("base-*.csv")]
    assert any({r.question_id for r in c} == {r.question_id for r in ScoreTable.load(
        out / "seed-0" / "eval" / "arc_challenge-test" / "scores.csv")} for c in cached)  # the curve's test set
    fresh = tmp_path / "fresh"
    assert main(["--quiet", "eval", "--run", str(out / "seed-1"), "--model", str(model_dir), "--limit", "5",
                 "--checkpoints", "all", "--out", str(fresh)]) == 0
    mine = ScoreTable.load(out / "seed-1" / "eval" / "arc_challenge-test" / "scores.csv")
    theirs = ScoreTable.load(fresh / "scores.csv")
    key = lambda r: (r.question_id, r.choice)  # noqa: E731
    assert sorted(mine.select("base"), key=key) == sorted(theirs.select("base"), key=key)
    assert sorted(mine.select("pos", "8"), key=key) == sorted(theirs.select("pos", "8"), key=key)
