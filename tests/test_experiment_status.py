"""`likra experiment status`: what an experiment folder holds, read from its files alone (no model):
heads trained of those they will see, evaluations done or their saved passes, mined files, records."""

from __future__ import annotations

import io
import json
import sys

from likra.cli import main


def put(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def folder(tmp_path):
    out = tmp_path / "exp"
    run = out / "seed-0"
    put(run / "run.json", {"data": {"used": 8}})
    put(run / "pos" / "train_state" / "state.json", {"examples_seen": 8, "finished": True})
    put(run / "neg" / "train_state" / "state.json", {"examples_seen": 4, "finished": False})
    ev = run / "eval" / "arc_challenge-test"
    header = "question_id,benchmark,choice,head,checkpoint,logprob,n_tokens,n_chars,n_bytes,gold,greedy\n"
    rows = "".join(f"q{q},arc_challenge,{c},{h},{cp},-1.0,1,1,1,{int(c == 0)},0\n"
                   for h, cp in (("base", "-"), ("pos", "1"), ("pos", "2")) for q in range(2) for c in range(2))
    put(ev / "scores.partial.csv", header + rows)
    put(ev / "scores.partial.json", {"heads": ["pos", "neg"], "checkpoints": [1, 2, 4, 8], "table_sha256": "x"})
    dpo = out / "objectives" / "dpo" / "seed-1"
    put(dpo / "run.json", {"data": {"used": 8}})
    put(dpo / "pos" / "train_state" / "state.json", {"examples_seen": 8, "finished": True})
    put(dpo / "eval" / "arc_challenge-test" / "results.json", {})
    put(out / "negatives" / "hardest" / "seed-0" / "base_choice_scores.json", {})  # ranked, no head yet
    put(out / "negatives" / "easiest" / "seed-1" / "base_choice_scores.partial.json",  # ranking under way
        {"key": {}, "questions": 10, "scores": {"q1": [0.1, 0.2], "q2": [0.3, 0.1]}})
    put(out / "negatives" / "mined" / "seed-0.jsonl", "")
    put(out / "negatives" / "mined" / "seed-1.samples.partial", '{"kind": "x"}\n["a"]\n["b"]\n')
    put(out / "curve.json", {"experiment": "curve", "seeds": [0, 1], "config": {}})
    put(out / "negatives.json", {"experiment": "negatives", "seeds": [0],
                                 "config": {"negative_kinds": ["near-miss", "mined"]}})
    return out


def test_status_lists_runs_passes_and_records(tmp_path, capsys):
    out = folder(tmp_path)
    assert main(["experiment", "status", "--out", str(out)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    seed0 = next(line for line in lines if line[0] == "seed-0")
    assert " ".join(seed0[1:]) == "pos 8/8, neg 4/8 (training); eval arc_challenge-test 3/9 passes"
    dpo = next(line for line in lines if line[0] == "objectives/dpo/seed-1")
    assert " ".join(dpo[1:]) == "pos 8/8; eval arc_challenge-test done"
    hardest = next(line for line in lines if line[0] == "negatives/hardest/seed-0")
    assert " ".join(hardest[1:]) == "base model's ranking saved, no head trained yet; eval not evaluated"
    easiest = next(line for line in lines if line[0] == "negatives/easiest/seed-1")
    assert " ".join(easiest[1:]) == ("ranking the base model's choices: 2/10 questions saved; no head trained yet; "
                                     "eval not evaluated")
    assert ["mined", "negatives:", "seed-0.jsonl"] in lines
    assert ["mining", "seed-1:", "2", "questions", "sampled", "so", "far"] in lines
    assert next(line for line in lines if line[0] == "curve.json")[1:3] == ["seeds", "0,1"]
    assert next(line for line in lines if line[0] == "negatives.json")[1:5] == ["seeds", "0;", "near-miss,", "mined"]


def test_status_of_a_folder_of_experiments_reports_each(tmp_path, capsys):
    out = folder(tmp_path)
    other = tmp_path / "other"
    put(other / "seed-3" / "run.json", {"data": {"used": 8}})
    (tmp_path / "empty").mkdir()
    put(tmp_path / "table.json", {"experiment": "table", "config": {}})  # `table` writes into the parent
    assert main(["experiment", "status", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    heads = [line for line in text.splitlines() if line.endswith(":") and "/" in line]
    assert heads == [f"{tmp_path}:", f"{out}:", f"{other}:"]
    assert "seed-3" in text and "objectives/dpo/seed-1" in text and "empty" not in text


def test_status_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["experiment", "status", "--out", str(tmp_path / "nope")]) == 2
    assert "no such experiment folder" in capsys.readouterr().err


class ClosedPipe(io.StringIO):
    def write(self, s):
        raise BrokenPipeError


def test_a_closed_pipe_ends_quietly_not_as_a_likra_bug(tmp_path, capsys, monkeypatch):
    out = folder(tmp_path)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["experiment", "status", "--out", str(out)]) == 141
    assert "internal error" not in capsys.readouterr().err



def test_time_left_comes_from_the_checkpoint_passes_and_says_how_fresh_it_is():
    from likra.experiments.status import time_left

    # the base pass, then checkpoint passes every 120 s (one of 300 s: the median ignores it)
    saved = [1000.0, 1030.0, 1150.0, 1270.0, 1570.0, 1690.0]
    assert time_left(saved, 5, now=1690.0 + 180) == ", about 10 min left at 2.0 min a checkpoint (last saved 3 min ago)"
    assert time_left(saved[:1], 5) == "" and time_left(saved, 0) == ""
    # a resumed job's first two saves are two checkpoints' passes: an estimate from the start
    resumed = time_left([5000.0, 5120.0], 3, now=5180.0)
    assert resumed == ", about 6 min left at 2.0 min a checkpoint (last saved 1 min ago)"
    # no pass for 3 x 2 min + 10 min: the job has stopped, and an estimate would mislead
    assert time_left(saved, 5, now=1690.0 + 3 * 120 + 601).startswith(", stopped: last pass saved 16 min ago")


def test_training_time_left_is_the_pace_between_the_last_two_checkpoints(tmp_path):
    import os

    from likra.experiments.status import training_left

    head = tmp_path / "neg"
    for n, t in ((128, 1000.0), (256, 1256.0)):  # 128 examples in 256 s: 2 s an example
        (head / f"checkpoint-{n:06d}").mkdir(parents=True)
        os.utime(head / f"checkpoint-{n:06d}", (t, t))
    (head / "train_state").mkdir()
    (head / "train_state" / "state.json").write_text("{}")
    os.utime(head / "train_state" / "state.json", (1300.0, 1300.0))
    assert training_left(head, 296, 1024, now=1300.0 + 120) == "training; about 24 min left, state saved 2 min ago"
    assert training_left(head, 296, None) == ""
    # saved every 640 examples: 1280 s to the next save at most; silent for over 3 x that + 10 min = stopped
    assert training_left(head, 296, 1024, now=1300.0 + 3 * 1280 + 599).startswith("training; about")
    assert training_left(head, 296, 1024, now=1300.0 + 3 * 1280 + 601) == (
        "stopped: state saved 74 min ago; rerun its command to resume")


def test_training_pace_comes_from_the_running_process_saves_when_the_state_has_them(tmp_path):
    import os

    from likra.experiments.status import training_left

    head = tmp_path / "neg"
    for n, t in ((128, 1000.0), (256, 9000.0)):  # a stop between these checkpoints: 62 s an example, misleading
        (head / f"checkpoint-{n:06d}").mkdir(parents=True)
        os.utime(head / f"checkpoint-{n:06d}", (t, t))
    (head / "train_state").mkdir()
    (head / "train_state" / "state.json").write_text("{}")
    os.utime(head / "train_state" / "state.json", (9400.0, 9400.0))
    pace = [[256, 9000.0], [296, 9080.0], [336, 9160.0]]  # since the resume: 2 s an example
    assert (training_left(head, 336, 1024, pace=pace, now=9400.0 + 60)
            == "training; about 23 min left, state saved 1 min ago")


def test_mining_status_says_how_long_is_left_and_when_it_stopped(tmp_path):
    import os

    from likra.experiments.status import mining_status

    journal = tmp_path / "seed-1.samples.partial"
    put(journal, json.dumps({"kind": "likra-sample-journal", "fingerprint": "f", "total": 100, "batch_size": 10,
                             "started_at": 1000.0, "started_with": 20}) + "\n" + '["a"]\n' * 40)
    os.utime(journal, (1600, 1600))  # 20 questions in 600 s since this process started: 30 s each
    assert mining_status(journal, now=1660) == "40/100 questions sampled (about 30 min left, saved 1 min ago)"
    # no batch (10 questions, 300 s) for 3 x 300 s + 10 min: stopped
    assert mining_status(journal, now=1600 + 1501) == ("40/100 questions sampled (stopped: saved 25 min ago; "
                                                        "rerun its command to resume)")
    put(journal, '{"kind": "likra-sample-journal", "fingerprint": "f"}\n["a"]\n')  # a journal of before the counts
    assert mining_status(journal) == "1 questions sampled so far"


def test_a_ranking_under_way_says_how_far_it_is_and_how_long_it_has_left(tmp_path, monkeypatch):
    import json
    import time

    from likra.experiments import status

    monkeypatch.setattr("likra.pipeline.RANKING_PART", 2)
    run = tmp_path / "negatives" / "hardest" / "seed-0"
    run.mkdir(parents=True)
    now = time.time()
    partial = {"key": {}, "questions": 10, "scores": {"a": [0.0], "b": [0.0], "c": [0.0], "d": [0.0]},
               "saved_at": [now - 240, now - 120]}  # two parts of 2, 2 min apart; 3 parts (6 questions) left
    (run / "base_choice_scores.partial.json").write_text(json.dumps(partial))
    assert status.ranking_status(run) == ("ranking the base model's choices: 4/10 questions saved, about 6 min left "
                                          "at 2.0 min a part (last saved 2 min ago); no head trained yet")
    partial["saved_at"] = [now - 3600, now - 3480]  # nothing saved for an hour: stopped
    (run / "base_choice_scores.partial.json").write_text(json.dumps(partial))
    assert ", stopped: last part saved 58 min ago (a part takes 2.0 min)" in status.ranking_status(run)


def test_status_lists_each_series_with_the_seeds_its_rows_hold(tmp_path, capsys):
    """A record grown with --keep-from holds its series at uneven seeds: status names each with its own, not the
    record's seeds for all (a kind with no rows yet says none)."""
    row = lambda seed, kind: {"seed": seed, "kind": kind, "rule": "likra", "examples": 8, "accuracy": 0.5}  # noqa: E731
    rows = [row(s, "near-miss") for s in (0, 1, 2)] + [row(s, "sft") for s in (0, 1, 2)] + [row(0, "unrelated")]
    put(tmp_path / "negatives.json", {"experiment": "negatives", "seeds": [0, 1, 2], "rows": rows,
                                      "config": {"negative_kinds": ["near-miss", "unrelated", "hardest"]}})
    put(tmp_path / "objectives.json", {"experiment": "objectives", "seeds": [1], "config": {"objectives": ["dpo"]},
                                       "rows": [{"seed": 1, "objective": "dpo"}, {"seed": 1, "objective": "nll"}]})
    assert main(["experiment", "status", "--out", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "seeds 0,1,2; near-miss 0,1,2, unrelated 0, hardest none (" in lines["negatives.json"]
    assert "seeds 1; dpo 1 (" in lines["objectives.json"]
