"""Never a wrong number with exit 0: bad settings, unfinished or damaged runs, mixed resumes and
over-long questions are each a clear error (exit 2) or an explicit, reported choice. Each test is
one class of fault from issue 11; docs/RELIABILITY.md points here."""

from __future__ import annotations

import json
import shutil

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def trained(model_dir, tmp_path_factory):
    """A finished run: both heads on 12 questions, checkpoints 1, 2, 4, 8, 12."""
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "12", "--lr", "1e-2",
                 "--batch-size", "4", "--out", str(run)]) == 0
    return run


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained run, for tests that damage it."""
    return shutil.copytree(trained, tmp_path / "run")


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if anything loads a model: settings must be checked before that."""
    import likra.models.loading

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the settings were checked")

    monkeypatch.setattr(likra.models.loading, "load_model", refuse)


# ---- settings are checked before any model loads -----------------------------------------------
BAD_FLAGS = [
    (["train", "--n-train", "0"], "--n-train"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--lora-r", "0"], "--lora-r"),
    (["train", "--lora-dropout", "1.5"], "--lora-dropout"),
    (["train", "--seed", "-3"], "--seed"),
    (["train", "--device", "gpu"], "--device"),
    (["train", "--negatives", "irrelevant", "--near-miss", "hardest"], "--near-miss"),
    (["eval", "--limit", "0"], "--limit"),
    (["eval", "--shots", "-1"], "--shots"),
    (["eval", "--checkpoints", "last"], "--checkpoints"),
    (["eval", "--batch-tokens", "0"], "--batch-tokens"),
    (["eval", "--weights", "-1"], "--weights"),
    (["score", "--weight", "-0.5", "--question", "q", "--answers", "a"], "--weight"),
    (["score", "--checkpoint", "last", "--question", "q", "--answers", "a"], "--checkpoint"),
    (["demo", "--n-test", "0"], "--n-test"),
    (["demo", "--n-train", "0"], "--n-train"),
]


@pytest.mark.parametrize("args,flag", BAD_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_out_of_range_flag_is_exit_2_naming_the_flag_before_any_model_loads(args, flag, model_dir, tmp_path,
                                                                            capsys, no_model_load):
    out = tmp_path / "out"
    extra = {"train": ["--model", str(model_dir), "--out", str(out)],
             "eval": ["--model", str(model_dir), "--out", str(out)],
             "score": ["--model", str(model_dir)], "demo": ["--out", str(out)]}[args[0]]
    assert main(["--quiet", *args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"likra {args[0]}: error: {flag}") and "Traceback" not in err
    assert not out.exists()  # nothing half-made


@pytest.mark.parametrize("args", [["eval", "--weights", "nan"], ["eval", "--weights", "1,,2"], ["train", "--lr", "inf"],
                                  ["report", "x.csv", "--weights", "nan"], ["train", "--n-train", "ten"]])
def test_unparsable_numbers_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as e:
        main([*args, "--out", "o"] if args[0] == "train" else args)
    assert e.value.code == 2
    assert args[-2] in capsys.readouterr().err  # argparse names the flag


@pytest.mark.parametrize("name,text,expected", [
    ("run.yaml", "data: {}", "config files are .toml or .json"),
    ("run.toml", "[data\nn_train = 1", "not valid TOML"),
    ("run.json", "[1, 2]", "holds sections"),
    ("run.toml", "data = 5", "[data] must be a section"),
    ("run.toml", "[train]\nlr = 'fast'", "train.lr: expected float, got 'fast'"),
    ("run.toml", "[train]\nbatch_size = 2.5", "train.batch_size: expected int"),
    ("run.toml", "[data]\nn_train = 0", "data.n_train: must be >= 1, got 0"),
    ("run.toml", "[lora]\ntarget_modules = 'up_proj'", "lora.target_modules"),
    ("run.toml", "heads = ['pos', 'pso']", "run.heads"),
])
def test_config_file_errors_name_the_file_and_setting(name, text, expected, model_dir, tmp_path, capsys, no_model_load):
    cfg = tmp_path / name
    cfg.write_text(text)
    assert main(["train", "--config", str(cfg), "--model", str(model_dir), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert expected in err and name in err and not (tmp_path / "o").exists()


def test_bad_user_file_fails_before_the_model_loads_and_leaves_no_run_folder(model_dir, tmp_path, capsys,
                                                                              no_model_load):
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"question": "q", "choices": ["a", "b"], "answer": 1}\n{"question": "", "choices": ["a", "b"], '
                   '"answer": 0}\n')
    assert main(["train", "--model", str(model_dir), "--user-file", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "mine.jsonl:2" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_n_train_beyond_the_data_is_an_error_not_all_of_it(model_dir, tmp_path, capsys):
    assert main(["train", "--model", str(model_dir), "--n-train", "100000", "--out", str(tmp_path / "o")]) == 2
    assert "--n-train: data.n_train: 100000 training questions asked for, but 6604 remain" in capsys.readouterr().err


def test_lenient_prints_its_skip_summary_on_the_console(model_dir, tmp_path, capsys):
    f = tmp_path / "mine.jsonl"
    rows = [{"question": f"q{i}", "choices": ["yes", "no"], "answer": i % 2} for i in range(4)]
    f.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"question": "x", "choices": ["a"], "answer": 0}\n')
    assert main(["--quiet", "train", "--model", str(model_dir), "--user-file", str(f), "--lenient",
                 "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 row(s)" in err and "mine.jsonl:5" in err


# ---- runs: heads are only paired at the same checkpoint; damaged files are named ---------------
def _interrupt(run, head: str, keep_upto: int) -> None:
    """Make `head` look stopped after `keep_upto` examples, as a killed `likra train` leaves it."""
    for p in (run / head).glob("checkpoint-*"):
        if int(p.name.split("-")[1]) > keep_upto:
            shutil.rmtree(p)
    state = run / head / "train_state" / "state.json"
    s = json.loads(state.read_text())
    s.update(finished=False, examples_seen=keep_upto)
    state.write_text(json.dumps(s))


def test_final_of_an_unfinished_run_is_an_error_saying_how_to_finish(run_copy, model_dir, capsys):
    _interrupt(run_copy, "neg", 2)
    for cmd in (["eval", "--limit", "3"], ["score", "--question", "q?", "--answers", "a", "b"]):
        assert main(["--quiet", *cmd, "--run", str(run_copy), "--model", str(model_dir)]) == 2
        err = capsys.readouterr().err
        assert "head 'neg' stopped after 2 examples" in err and "rerunning the same `likra train`" in err


def test_learning_curve_scores_only_checkpoints_every_head_has(run_copy, model_dir, tmp_path, capsys):
    _interrupt(run_copy, "neg", 2)
    out = tmp_path / "eval"
    assert main(["--quiet", "eval", "--run", str(run_copy), "--model", str(model_dir), "--limit", "3",
                 "--checkpoints", "all", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["checkpoints"] == [1, 2]
    assert "not scored (a head lacks them): {'pos': [4, 8, 12]}" in capsys.readouterr().err
    assert main(["--quiet", "eval", "--run", str(run_copy), "--model", str(model_dir), "--limit", "3",
                 "--checkpoints", "8", "--out", str(out)]) == 2
    assert "head 'neg' has no checkpoint at [8]" in capsys.readouterr().err


def test_a_head_is_never_scored_at_another_heads_checkpoint(run_copy, model_dir):
    from likra.errors import RunStateError
    from likra.models.likra_model import load_likra

    _interrupt(run_copy, "neg", 2)
    likra = load_likra(str(model_dir), run_copy, checkpoint=2)
    assert likra.checkpoint == 2
    with pytest.raises(RunStateError, match="head 'neg' has no checkpoint at 8 examples"):
        likra.use_checkpoint(8)  # was: neg silently at 2, reported as 8


def test_a_run_missing_a_configured_head_is_an_error(run_copy, model_dir, capsys):
    shutil.rmtree(run_copy / "neg")  # killed before the neg head's first save
    assert main(["--quiet", "eval", "--run", str(run_copy), "--model", str(model_dir), "--limit", "2"]) == 2
    assert "head 'neg' has no saved checkpoint yet" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncate", "garbage", "meta", "config"])
def test_a_damaged_head_file_is_an_error_naming_its_path(run_copy, model_dir, capsys, damage):
    folder = run_copy / "pos" / "checkpoint-000012"
    target = {"truncate": "adapter_model.safetensors", "garbage": "adapter_model.safetensors",
              "meta": "likra-head.json", "config": "adapter_config.json"}[damage]
    path = folder / target
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" if damage == "garbage"
                     else data[:20])
    assert main(["--quiet", "eval", "--run", str(run_copy), "--model", str(model_dir), "--limit", "2",
                 "--out", str(run_copy / "e")]) == 2
    err = capsys.readouterr().err
    assert str(path if damage != "config" else path) in err and "Traceback" not in err


def test_resuming_training_says_so_and_refuses_other_settings(trained, model_dir, capsys):
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "12", "--lr", "1e-2",
                 "--batch-size", "4", "--out", str(trained)]) == 0
    assert "pos: already trained (12 examples)" in capsys.readouterr().err
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "12", "--lr", "1e-3",
                 "--batch-size", "4", "--out", str(trained)]) == 2
    assert "a run with other settings is saved here (train.lr: 0.01, now 0.001)" in capsys.readouterr().err


def test_reusing_a_finished_run_keeps_the_record_of_the_sessions_that_trained_it(run_copy, model_dir, capsys):
    path = run_copy / "run.json"
    record = json.loads(path.read_text())
    assert record["heads"]["pos"]["versions"]["torch"] and record["seconds"] > 0
    old = {"torch": "0.0-then"}
    record["versions"], record["seconds"] = old, 1234.5
    for head in record["heads"].values():
        head["versions"], head["seconds"] = old, 600.0
    path.write_text(json.dumps(record))
    args = ["--quiet", "train", "--model", str(model_dir), "--n-train", "12", "--lr", "1e-2", "--batch-size", "4",
            "--out", str(run_copy)]
    assert main(args) == 0
    after = json.loads(path.read_text())
    assert (after["versions"], after["seconds"]) == (old, 1234.5)
    assert ({h: (r["versions"], r["seconds"]) for h, r in after["heads"].items()}
            == {"pos": (old, 600.0), "neg": (old, 600.0)})
    # a head trained again in this session is recorded with this session's versions
    shutil.rmtree(run_copy / "neg")
    assert main(args) == 0
    again = json.loads(path.read_text())
    assert again["heads"]["pos"]["versions"] == old and again["heads"]["neg"]["versions"]["torch"] != "0.0-then"
    assert again["versions"] == again["heads"]["neg"]["versions"] and again["seconds"] > 1234.5


# ---- the verifier uses the trained heads, and every front door agrees ---------------------------
def test_score_eval_and_api_give_the_same_log_likelihoods(trained, model_dir, tmp_path, capsys):
    from likra.config import EvalConfig
    from likra.evaluate import eval_questions
    from likra.models.likra_model import load_likra
    from likra.scoring.table import ScoreTable
    from likra.verify import ARC_TEMPLATE, score_candidates

    out = tmp_path / "eval"
    assert main(["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "3",
                 "--out", str(out)]) == 0
    q = eval_questions(EvalConfig(limit=3))[0]
    assert q.context == ARC_TEMPLATE.format(question=q.query)
    table = {(r.head, r.choice): r.logprob for r in ScoreTable.load(out / "scores.csv") if r.question_id == q.id}
    capsys.readouterr()
    assert main(["score", "--run", str(trained), "--model", str(model_dir), "--question", q.query,
                 "--answers", *q.choices]) == 0
    cli = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    api = score_candidates(load_likra(str(model_dir), trained), q.query, list(q.choices))
    for result in (cli, api):
        assert result["checkpoint"] == 12
        for c, a in enumerate(result["answers"]):
            for head in ("base", "pos", "neg"):
                assert a["loglik"][head] == pytest.approx(table[(head, c)], abs=1e-4)
            n = len(q.choices[c])
            assert a["score"] == pytest.approx(table[("pos", c)] / n - table[("neg", c)] / n, abs=1e-4)
    # the heads are really loaded: trained on lr 1e-2, they move every answer's log-likelihood
    assert all(abs(a["loglik"]["pos"] - a["loglik"]["base"]) > 1e-3 for a in cli["answers"])
    assert all(abs(a["loglik"]["neg"] - a["loglik"]["pos"]) > 1e-3 for a in cli["answers"])


def test_score_reads_an_input_file_checked_line_by_line(trained, model_dir, tmp_path, capsys, no_model_load):
    f = tmp_path / "cands.jsonl"
    f.write_text('{"question": "q?", "answers": ["a", "b"]}\n{"question": "q2?", "answers": "a"}\n')
    assert main(["score", "--run", str(trained), "--model", str(model_dir), "--input", str(f)]) == 2
    assert "cands.jsonl:2: expected a non-empty list of non-empty strings (field 'answers')" in capsys.readouterr().err


# ---- eval resume reuses a partial table only when everything that shaped it is equal -----------
def _interrupted_eval(args, monkeypatch):
    from likra.models.likra_model import LikraModel

    real, calls = LikraModel.use_checkpoint, []

    def stop_at_second(self, seen):
        calls.append(seen)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, seen)

    monkeypatch.setattr(LikraModel, "use_checkpoint", stop_at_second)
    assert main(args) == 130
    monkeypatch.setattr(LikraModel, "use_checkpoint", real)


def test_partial_eval_with_other_settings_is_not_reused(trained, model_dir, tmp_path, monkeypatch, capsys):
    base = ["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "3", "--checkpoints", "all",
            "--length-policy", "truncate"]
    out = tmp_path / "eval"
    _interrupted_eval([*base, "--shots", "2", "--out", str(out)], monkeypatch)
    assert (out / "scores.partial.csv").exists()
    capsys.readouterr()
    assert main([*base, "--shots", "0", "--out", str(out)]) == 0
    assert "not resuming the partial table" in capsys.readouterr().err
    fresh = tmp_path / "fresh"
    assert main([*base, "--shots", "0", "--out", str(fresh)]) == 0
    assert (out / "scores.csv").read_text() == (fresh / "scores.csv").read_text()
    assert json.loads((out / "results.json").read_text())["results"] == \
        json.loads((fresh / "results.json").read_text())["results"]


def test_partial_eval_with_the_same_settings_resumes_to_the_same_table(trained, model_dir, tmp_path, monkeypatch,
                                                                      capsys):
    base = ["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "3", "--checkpoints", "all"]
    _interrupted_eval([*base, "--out", str(tmp_path / "a")], monkeypatch)
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "resuming: 3 head pass(es) already scored" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "scores.csv").read_text() == (tmp_path / "b" / "scores.csv").read_text()


@pytest.mark.parametrize("edit,expected", [
    (lambda lines: lines[:-3], "choice"),                                   # truncated: rows missing
    (lambda lines: lines + lines[-1:], "duplicate"),                        # a duplicated row
    (lambda lines: [lines[0]] + [l.replace(",1,0", ",0,0", 1) for l in lines[1:]], "gold"),  # no gold anywhere
    (lambda lines: [lines[0], lines[1].replace(lines[1].split(",")[5], "nan"), *lines[2:]], "logprob"),
    (lambda lines: [lines[0], lines[1].replace(",base,", ",bsae,"), *lines[2:]], "head"),
])
def test_report_on_a_damaged_table_is_exit_2_naming_the_line(trained, model_dir, tmp_path, capsys, edit, expected):
    out = tmp_path / "eval"
    assert main(["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "3",
                 "--out", str(out)]) == 0
    bad = tmp_path / "edited.csv"
    bad.write_text("\n".join(edit((out / "scores.csv").read_text().splitlines())) + "\n")
    capsys.readouterr()
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "edited.csv" in err and expected in err and "Traceback" not in err


def test_report_refuses_a_well_formed_table_edited_after_eval(trained, model_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "3",
                 "--out", str(out)]) == 0
    table = out / "scores.csv"
    assert main(["report", str(table)]) == 0
    lines = table.read_text().splitlines()
    cells = lines[1].split(",")
    cells[5] = repr(float(cells[5]) - 0.5)  # a believable log-likelihood: validation alone cannot tell
    table.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    capsys.readouterr()
    assert main(["report", str(table)]) == 2
    assert "changed since likra eval wrote it" in capsys.readouterr().err
    copy = tmp_path / "mine.csv"
    shutil.copy(table, copy)
    assert main(["report", str(copy)]) == 0  # deliberately edited elsewhere: reported as it is


def test_each_scoring_pass_is_labelled_with_heads_checkpoint_and_passes_left(trained, model_dir, tmp_path,
                                                                             monkeypatch):
    from likra.scoring.engine import ScoringEngine

    real, labels = ScoringEngine.score, []

    def spy(self, questions, heads=("base",), checkpoint="final", desc=None):
        labels.append(desc)
        return real(self, questions, heads, checkpoint=checkpoint, desc=desc)

    monkeypatch.setattr(ScoringEngine, "score", spy)
    assert main(["--quiet", "eval", "--run", str(trained), "--model", str(model_dir), "--limit", "2",
                 "--checkpoints", "4,12", "--out", str(tmp_path / "e")]) == 0
    assert labels == ["scoring base (pass 1/3)", "scoring pos,neg @ 4 (pass 2/3)", "scoring pos,neg @ 12 (pass 3/3)"]


# ---- one error boundary ------------------------------------------------------------------------
def test_a_bug_shows_its_traceback_and_exit_1(monkeypatch, capsys):
    import likra.cli

    def broken(a):
        raise RuntimeError("boom")

    monkeypatch.setattr(likra.cli, "cmd_models", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err and "a bug in likra" in err


def test_debug_shows_the_traceback_of_an_expected_error(tmp_path):
    from likra.errors import LikraError

    with pytest.raises((LikraError, OSError)):
        main(["report", str(tmp_path / "missing.csv"), "--debug"])


def test_quiet_and_debug_work_after_the_subcommand_too(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.csv"), "--quiet"]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_every_flag_has_help():
    from likra.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"likra {name} {action.option_strings[0]} has no help"
