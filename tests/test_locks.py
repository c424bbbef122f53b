"""One writer at a time (likra/locks.py): a second process training the same head or scoring the same
table stops with an error naming the first, before it writes anything; a killed holder leaves no stale
lock; a finished head is shared freely; `experiment status` reads running/stopped from the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from likra import locks
from likra.errors import RunStateError
from likra.locks import hold, holder, lock_path

pytestmark = pytest.mark.skipif(not locks.available(), reason="no fcntl: likra takes no locks here")

HOLD = """
import sys, time
from likra.locks import hold
with hold(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def other_process():
    """Start another process that holds a lock (as a second `likra train` would) until it is killed."""
    started = []

    def start(path, doing="training head pos"):
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(path), doing], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "held"
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch):
    monkeypatch.setattr(locks, "RETRY_S", 0.2)


def test_a_second_writer_is_refused_with_the_first_ones_pid_and_command(tmp_path, other_process):
    path = lock_path(tmp_path / "run" / "pos")
    p = other_process(path)
    info = holder(path)
    assert info["pid"] == p.pid and info["doing"] == "training head pos" and "-c" in info["command"]
    with pytest.raises(RunStateError) as e:
        with hold(path, "training head pos"):
            raise AssertionError("the block must not run while another process holds the lock")
    message = str(e.value)
    assert (f"pid {p.pid}" in message and "already training head pos" in message
            and str(tmp_path / "run" / "pos") in message)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, other_process):
    path = lock_path(tmp_path, "scores")
    assert path.name == ".scores.lock"
    p = other_process(path, "scoring scores.csv")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert path.exists() and holder(path) is None  # the file stays; the kernel released the lock
    with hold(path, "scoring scores.csv"):
        assert holder(path)["pid"] == os.getpid()
    assert holder(path) is None and holder(tmp_path / "missing.lock") is None


def test_a_writer_refused_by_a_held_head_writes_nothing(tokenizer, tmp_path, other_process):
    from likra.models.heads import attach_heads
    from likra.testing import build_model
    from likra.training.trainer import HeadTrainer, TrainConfig
    from tests.test_train import PAIRS

    cfg = TrainConfig(lr=1e-2, batch_size=2, state_every=1, curve=False)
    head = tmp_path / "pos"
    HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "pos", head, cfg,
                progress=False).train(PAIRS, max_steps=2)
    state = (head / "train_state" / "state.json").read_bytes()
    other_process(lock_path(head))
    with pytest.raises(RunStateError, match="already training head pos"):
        HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "pos", head, cfg, progress=False).train(PAIRS)
    assert (head / "train_state" / "state.json").read_bytes() == state
    assert sorted(p.name for p in head.glob("checkpoint-*")) == []  # curve=False: only the final one, never reached


def test_a_finished_head_is_reused_while_another_process_holds_its_lock(tokenizer, tmp_path, other_process):
    from likra.models.heads import attach_heads
    from likra.testing import build_model
    from likra.training.trainer import HeadTrainer, TrainConfig
    from tests.test_train import PAIRS

    cfg = TrainConfig(lr=1e-2, batch_size=4)
    HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "neg", tmp_path, cfg, progress=False).train(PAIRS)
    other_process(lock_path(tmp_path))  # e.g. a second experiment checking the same shared head
    again = HeadTrainer(attach_heads(build_model("llama")), tokenizer, [], "neg", tmp_path, cfg,
                        progress=False).train(PAIRS)
    assert again.finished and again.steps_now == 0 and again.examples_seen == len(PAIRS)


def test_no_resume_never_removes_a_head_another_process_trains(tmp_path, other_process):
    from likra.config import TrainRunConfig
    from likra.pipeline import _previous_record

    run = tmp_path / "run"
    (run / "pos").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {}}))
    other_process(lock_path(run / "pos"))
    with pytest.raises(RunStateError, match="--no-resume would remove head"):
        _previous_record(run, TrainRunConfig(), resume=False)
    assert (run / "pos").is_dir()


def test_a_table_being_scored_by_another_process_is_not_scored_twice(tmp_path, other_process):
    from likra.evaluate import scored_table

    scores = tmp_path / "eval" / "scores.csv"
    other_process(lock_path(scores.parent, "scores"), "scoring scores.csv")
    with pytest.raises(RunStateError, match="already scoring scores.csv"):
        scored_table(likra=None, questions=[], checkpoints=[], engine=None, scores=scores, shape={},
                     record=tmp_path / "eval" / "results.json")
    assert not scores.exists() and not scores.with_name("scores.partial.csv").exists()


def test_status_reads_running_or_stopped_from_the_lock(tmp_path, other_process):
    from likra.experiments.status import eval_status, training_left

    head = tmp_path / "neg"
    (head / "train_state").mkdir(parents=True)
    (head / "train_state" / "state.json").write_text("{}")
    saved = os.path.getmtime(head / "train_state" / "state.json")
    pace = [[0, saved - 100.0], [100, saved]]  # 1 s an example
    # saved a day ago: the clock alone would call it stopped; a live holder says it runs
    p = other_process(lock_path(head))
    assert training_left(head, 100, 1000, now=saved + 86400, pace=pace,
                         lock=lock_path(head)).startswith("training; about 15 min left")
    p.kill()
    p.wait()
    # saved a minute ago, but no process holds the lock: stopped (the clock would still say running)
    assert training_left(head, 100, 1000, now=saved + 60, pace=pace, lock=lock_path(head)) == (
        "stopped: state saved 1 min ago; rerun its command to resume")
    from likra.experiments.status import head_status

    (head / "train_state" / "state.json").write_text(json.dumps({"examples_seen": 100, "finished": False,
                                                                 "pace": pace}))
    assert head_status(tmp_path, "neg", 1000).startswith("neg 100/1000 (stopped: state saved")
    p = other_process(lock_path(head))
    assert head_status(tmp_path, "neg", 1000).endswith(f"; pid {p.pid})")
    ev = tmp_path / "eval"
    ev.mkdir()
    assert eval_status(ev) == "not started"
    other_process(lock_path(ev, "scores"), "scoring scores.csv")
    assert eval_status(ev) == "scoring its first pass"


def test_a_file_system_without_locks_warns_and_goes_on(tmp_path, monkeypatch, capsys):
    def no_locks(f, mode):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    ran = []
    with hold(tmp_path / ".likra.lock", "training head pos"):
        ran.append(True)
    assert ran == [True] and "cannot lock on this file system" in capsys.readouterr().err
    assert holder(tmp_path / ".likra.lock") is None
