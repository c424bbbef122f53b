"""End to end through the command line: a tiny model folder, real ARC data, train -> eval -> report -> score."""

from __future__ import annotations

import json

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


def test_train_eval_report_score(model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "12", "--lr", "1e-2",
                 "--batch-size", "4", "--out", str(run)]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["used"] == 12
    assert record["heads"]["pos"]["examples_seen"] == 12 and record["heads"]["neg"]["examples_seen"] == 12
    assert record["config"]["train"]["lr"] == 1e-2 and "torch" in record["versions"]
    assert sorted(p.name for p in (run / "neg").glob("checkpoint-*"))[-1] == "checkpoint-000012"

    out = tmp_path / "eval"
    assert main(["--quiet", "eval", "--run", str(run), "--model", str(model_dir), "--limit", "6",
                 "--checkpoints", "all", "--weights", "0.5,1", "--out", str(out), "--plot"]) == 0
    printed = capsys.readouterr().out
    assert "Likra" in printed and "Base-Likra" in printed and "SFT" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["questions"] == 6 and results["checkpoints"] == [1, 2, 4, 8, 12]
    rules = {(r["checkpoint"], r["rule"], r["weight"]) for r in results["results"]}
    assert ("12", "likra", 0.5) in rules and ("1", "base-likra", 1.0) in rules
    assert (out / "accuracy.png").stat().st_size > 1000
    n_choices = sum(1 for line in (out / "scores.csv").read_text().splitlines()[1:] if ",base," in line)
    assert 6 * 3 <= n_choices <= 6 * 5
    # 'report' recomputes the same numbers from the table alone
    assert main(["report", str(out / "scores.csv"), "--weights", "0.5,1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["results"] == results["results"]

    assert main(["score", "--run", str(run), "--model", str(model_dir), "--question", "What gives us light?",
                 "--answers", "the Sun", "a rock"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    probs = [a["probability"] for a in scored["answers"]]
    assert scored["rule"] == "likra" and sum(probs) == pytest.approx(1.0)
    assert set(scored["answers"][0]["loglik"]) == {"base", "pos", "neg"}


def test_negatives_only_run_has_no_pos_head(model_dir, tmp_path):
    run = tmp_path / "negonly"
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "4", "--negatives-only",
                 "--negatives", "irrelevant", "--out", str(run)]) == 0
    assert not (run / "pos").exists() and (run / "neg" / "checkpoint-000004").is_dir()


def test_bad_input_is_a_clear_error_not_a_traceback(model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "choices": ["a", "b"], "answer": 5}\n')
    code = main(["--quiet", "train", "--model", str(model_dir), "--user-file", str(bad), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.jsonl:1" in err and "answer" in err


def test_help_explains_every_subcommand(capsys):
    for args in (["--help"], *([cmd, "--help"] for cmd in ("train", "eval", "score", "report", "demo", "models",
                                                           "benchmarks", "experiment"))):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--negatives-only" in out and "--num-processes" in out and "lm-eval" in out


def test_same_seed_same_numbers_and_config_file(model_dir, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[data]\nn_train = 6\nnegative_kind = "irrelevant"\n\n[train]\nlr = 0.01\nbatch_size = 2\n'
                   '\n[lora]\nr = 4\n')
    tables = []
    for name in ("a", "b"):
        run = tmp_path / name
        assert main(["--quiet", "train", "--config", str(cfg), "--model", str(model_dir), "--out", str(run)]) == 0
        record = json.loads((run / "run.json").read_text())
        assert record["config"]["lora"]["r"] == 4 and record["config"]["data"]["negative_kind"] == "irrelevant"
        assert main(["--quiet", "eval", "--run", str(run), "--model", str(model_dir), "--limit", "4",
                     "--out", str(run / "eval")]) == 0
        tables.append((run / "eval" / "scores.csv").read_text())
    assert tables[0] == tables[1]  # bit-identical score tables from two runs with the same seed
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 1\n")
    assert main(["train", "--config", str(bad), "--model", str(model_dir), "--out", str(tmp_path / "c")]) == 2
    assert "unknown setting(s) ['learning_rate']" in capsys.readouterr().err


def test_eval_resumes_from_partial_table(model_dir, tmp_path, monkeypatch):

    run = tmp_path / "run"
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "4", "--out", str(run)]) == 0
    out = tmp_path / "eval"
    calls = []
    from likra.models.likra_model import LikraModel

    real = LikraModel.use_checkpoint

    def failing(self, seen):
        calls.append(seen)
        if seen == 4 and len(calls) == 3:
            raise KeyboardInterrupt  # interrupted while scoring the last checkpoint
        return real(self, seen)

    monkeypatch.setattr(LikraModel, "use_checkpoint", failing)
    args = ["--quiet", "eval", "--run", str(run), "--model", str(model_dir), "--limit", "3", "--checkpoints", "all",
            "--out", str(out)]
    assert main(args) == 130
    assert (out / "scores.partial.csv").exists()
    calls.clear()
    assert main(args) == 0
    assert calls == [4]  # only the unfinished checkpoint was scored again
    assert not (out / "scores.partial.csv").exists()
    assert json.loads((out / "results.json").read_text())["checkpoints"] == [1, 2, 4]


def test_hardest_near_miss_is_the_base_models_favourite_wrong_choice(model_dir, tmp_path, monkeypatch):
    from likra.config import DataConfig
    from likra.models.loading import load_model
    from likra.pipeline import base_choice_scores, build_training_data

    cfg = DataConfig(n_train=5, negative_strategy="hardest", seed=3)
    questions = build_training_data(DataConfig(n_train=5, seed=3)).questions
    scores = base_choice_scores(load_model(str(model_dir)), questions)
    data = build_training_data(cfg, scores)
    for q, neg in zip(data.questions, data.negatives):
        wrong = [i for i in range(len(q.choices)) if i != q.gold]
        hardest = max(wrong, key=lambda i: scores[q.id][i])
        assert neg.answer == q.continuation(hardest) and neg.kind == "near-miss"
    run = tmp_path / "hard"
    argv = ["--quiet", "train", "--model", str(model_dir), "--n-train", "5", "--seed", "3",
            "--near-miss", "hardest", "--negatives-only", "--out", str(run)]
    assert main(argv) == 0
    assert json.loads((run / "run.json").read_text())["data"]["negative_strategy"] == "hardest"
    saved = json.loads((run / "base_choice_scores.json").read_text())
    assert saved["scores"] == scores  # the ranking is kept beside the run, exactly

    def no_scoring(*a, **k):
        raise AssertionError("scored again although the run kept its base scores")

    monkeypatch.setattr("likra.pipeline.base_choice_scores", no_scoring)
    assert main(argv) == 0  # a rerun of the finished run reads them back


def test_base_choice_scores_ignore_heads_already_on_the_model(model_dir):
    """A session that has evaluated a run (heads injected into the shared model, one active) and then
    trains a hardest near-miss head must rank the choices by the BASE model, not by the active head."""
    from likra.config import DataConfig
    from likra.models.heads import heads_on
    from likra.models.loading import load_model
    from likra.pipeline import base_choice_scores, build_training_data
    from likra.scoring.engine import ScoringEngine

    from likra.testing import randomise_lora

    questions = build_training_data(DataConfig(n_train=4, seed=3)).questions
    loaded = load_model(str(model_dir))
    before = base_choice_scores(loaded, questions)
    randomise_lora(heads_on(loaded))  # an active head that changes every score
    after = base_choice_scores(loaded, questions)
    assert after.keys() == before.keys()
    for qid in before:
        assert after[qid] == pytest.approx(before[qid], abs=1e-5)
    with pytest.raises(TypeError, match="PeftModel"):  # the bare model under the wrapper is refused
        ScoringEngine(loaded.model, loaded.tokenizer)


@pytest.mark.parametrize("args", [["--help"], ["benchmarks"], ["report", "--help"]])
def test_light_commands_do_not_import_torch(args):
    """--help, benchmarks and report start fast: no torch, datasets, transformers or accelerate."""
    import os
    import subprocess
    import sys

    code = ("import sys, io, contextlib\nfrom likra.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try: main({args!r})\n    except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'datasets', 'transformers', 'accelerate') if m in sys.modules]\n"
            "print(','.join(heavy), file=sys.stderr); sys.exit(1 if heavy else 0)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _second_run_reads_the_firsts_ranking(s, first, second, monkeypatch):
    """Train the (seed, kind) run `first`, then `second` with the base model's scoring forbidden: the second
    must read the first's saved ranking, and keep an equal copy. Returns both run folders."""
    one = s.train(*first)

    def no_scoring(*a, **k):
        raise AssertionError(f"scored the base model again although {first} kept its ranking")

    monkeypatch.setattr("likra.pipeline.base_choice_scores", no_scoring)
    two = s.train(*second)
    name = "base_choice_scores.json"
    assert json.loads((two / name).read_text()) == json.loads((one / name).read_text())
    return one, two


def test_a_seeds_easiest_run_reuses_its_hardest_runs_base_ranking_and_keeps_a_copy(model_dir, tmp_path, monkeypatch):
    """Both near-miss variants of one seed rank the same questions by the same base model: the second run
    reads the first's saved ranking (checked by its key) instead of scoring every question again."""
    from likra.config import ExperimentConfig
    from likra.experiments.session import Session

    cfg = ExperimentConfig(model=str(model_dir), n_train=5, seeds=(3,), limit=4)
    s = Session(cfg, tmp_path / "exp", progress=False)
    hardest, easiest = _second_run_reads_the_firsts_ranking(s, (3, "hardest"), (3, "easiest"), monkeypatch)
    name = "base_choice_scores.json"
    assert json.loads((easiest / "run.json").read_text())["data"]["negative_strategy"] == "easiest"
    # another seed's questions are another sample: its ranking is not reused from seed 3's runs
    (tmp_path / "exp" / "negatives" / "hardest" / "seed-4").mkdir(parents=True)
    (tmp_path / "exp" / "negatives" / "hardest" / "seed-4" / name).write_text((hardest / name).read_text())
    with pytest.raises(AssertionError, match="scored the base model again"):
        s.train(4, "easiest")


def test_a_stopped_base_ranking_resumes_at_its_first_unsaved_part(model_dir, tmp_path, monkeypatch):
    """The base model ranks a hardest/easiest run's questions in parts, each saved: a stop midway loses at
    most one part, and the resumed ranking equals one that ran through."""
    import likra.pipeline as pipeline
    from likra.config import DataConfig
    from likra.models.loading import load_model

    questions = pipeline.build_training_data(DataConfig(n_train=7, seed=3)).questions
    loaded = load_model(str(model_dir))
    monkeypatch.setattr(pipeline, "RANKING_PART", 3)
    through = pipeline.cached_base_choice_scores(loaded, questions, tmp_path / "a" / "ranking.json", progress=False)
    real, scored = pipeline.base_choice_scores, []

    def stops_after_one_part(loaded, part, **k):
        if scored:
            raise KeyboardInterrupt
        scored.append(len(part))
        return real(loaded, part, **k)

    monkeypatch.setattr(pipeline, "base_choice_scores", stops_after_one_part)
    path = tmp_path / "b" / "ranking.json"
    with pytest.raises(KeyboardInterrupt):
        pipeline.cached_base_choice_scores(loaded, questions, path, progress=False)
    assert not path.exists() and len(json.loads(pipeline.partial_ranking(path).read_text())["scores"]) == 3

    def counted(loaded, part, **k):
        scored.append(len(part))
        return real(loaded, part, **k)

    monkeypatch.setattr(pipeline, "base_choice_scores", counted)
    resumed = pipeline.cached_base_choice_scores(loaded, questions, path, progress=False)
    assert scored == [3, 3, 1]  # the first part was not scored again
    assert resumed == through and json.loads(path.read_text())["scores"] == through
    assert not pipeline.partial_ranking(path).exists()


def test_a_full_set_run_reuses_another_seeds_base_ranking(model_dir, tmp_path, monkeypatch):
    """Without sampling every seed trains on the same questions: a seed's hardest run reads the ranking
    another seed's easiest run saved (same key) instead of scoring the base model again."""
    from likra.config import ExperimentConfig
    from likra.experiments.session import Session

    cfg = ExperimentConfig(model=str(model_dir), benchmark="arc_challenge", train_split="validation", seeds=(0, 1),
                           limit=4)
    s = Session(cfg, tmp_path / "exp", progress=False)
    _, second = _second_run_reads_the_firsts_ranking(s, (0, "easiest"), (1, "hardest"), monkeypatch)
    data = json.loads((second / "run.json").read_text())["data"]
    assert data["used"] == data["after_leak_check"] > 200  # no sample: all of ARC-Challenge's validation split
