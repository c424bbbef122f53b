"""Data parallel: N processes give one process's numbers.

- Unit level (no processes): for every objective, the gradients that each simulated rank computes from
  the gathered scores (its own share with gradient, the others' as values) sum to the one-process
  gradient of the whole batch.
- End to end (2 CPU processes, gloo, through `--num-processes 2`, i.e. accelerate launch): the merged
  score table equals the one-process table, and 2-process training gives the same loss curve and
  adapters. Tolerance: relative 1e-6 on log-likelihoods and 1e-5 absolute on adapter weights: float32
  matrix products over differently shaped batches (each process packs its own share) round
  differently in the last bits; everything else (order, ids, accuracies, checkpoints) is equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from likra import distributed
from likra.config import DataConfig, ObjectiveConfig, TrainConfig
from likra.models.heads import attach_heads
from likra.training.objectives import OBJECTIVES
from likra.paths import data_root
from likra.pipeline import build_training_data, training_units
from likra.scoring.table import ScoreTable
from likra.training.trainer import HeadTrainer, gather_scores
from likra.testing import build_model

needs_data = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


@pytest.mark.parametrize("n,size", [(10, 2), (5, 2), (1, 2), (7, 3), (0, 2)])
def test_shards_tile_the_items_in_rank_order(n, size, monkeypatch):
    bounds = []
    for rank in range(size):
        monkeypatch.setattr(distributed, "world", lambda r=rank: distributed.World(r, size))
        bounds.append(distributed.shard(n))
    assert [lo for lo, _ in bounds] == [0] + [hi for _, hi in bounds[:-1]] and bounds[-1][1] == n
    assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1


def _grads(params):
    return [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]


@needs_data
@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_gathered_scores_give_the_one_process_gradient(objective, tokenizer, tmp_path, monkeypatch):
    data = build_training_data(DataConfig(n_train=5, seed=0))
    units = training_units(objective, data)["pos"][:5]
    units = [(u,) if not isinstance(u, tuple) else u for u in units]
    model = attach_heads(build_model("llama"))
    cfg = TrainConfig(objective=ObjectiveConfig(name=objective))
    trainer = HeadTrainer(model, tokenizer, [1], "pos", tmp_path, cfg)
    from likra.models.heads import make_trainable

    params = make_trainable(model, "pos")
    with torch.no_grad():  # a trained-looking head, so the reference and the head differ
        for p in params:
            p.add_(torch.randn_like(p) * 0.05)
    model.zero_grad()
    trainer.objective.loss(trainer._scores(units)).backward()
    full = _grads(params)

    size = 2
    shares = []
    for rank in range(size):
        monkeypatch.setattr(distributed, "world", lambda r=rank: distributed.World(r, size))
        lo, hi = distributed.shard(len(units))
        shares.append(units[lo:hi])
    with torch.no_grad():  # what the other processes send: values, no graph
        values = [trainer._scores(s) for s in shares]
    summed = [torch.zeros_like(p) for p in params]
    for rank in range(size):
        monkeypatch.setattr(distributed, "world", lambda r=rank: distributed.World(r, size))
        local = trainer._scores(shares[rank])
        monkeypatch.setattr(distributed, "gather", lambda obj: [obj if r == rank else v for r, v in enumerate(values)])
        model.zero_grad()
        trainer.objective.loss(gather_scores(local, model.device)).backward()
        summed = [a + b for a, b in zip(summed, _grads(params))]
    for a, b in zip(full, summed):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)


def _likra(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIKRA_DATA": str(data_root()), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "likra", "--quiet", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def two_runs(model_dir, tmp_path_factory):
    """The same training run with 1 and with 2 processes."""
    out = tmp_path_factory.mktemp("dist")
    common = ["train", "--model", str(model_dir), "--n-train", "10", "--batch-size", "4", "--lr", "1e-2"]
    for n in (1, 2):
        done = _likra(*common, "--out", str(out / f"train{n}"), "--num-processes", str(n))
        assert done.returncode == 0, done.stderr[-3000:]
    return out


@needs_data
def test_two_process_training_equals_one(two_runs):
    one, two = (json.loads((two_runs / f"train{n}" / "run.json").read_text()) for n in (1, 2))
    for head in ("pos", "neg"):
        a, b = one["heads"][head], two["heads"][head]
        assert [x[:2] for x in a["losses"]] == [x[:2] for x in b["losses"]]  # (step, examples seen)
        assert [x[2] for x in b["losses"]] == pytest.approx([x[2] for x in a["losses"]], rel=1e-6)
        assert [os.path.basename(c) for c in a["checkpoints"]] == [os.path.basename(c) for c in b["checkpoints"]]
        for ckpt in a["checkpoints"]:
            name = os.path.basename(ckpt)
            wa = load_file(str(two_runs / "train1" / head / name / "adapter_model.safetensors"))
            wb = load_file(str(two_runs / "train2" / head / name / "adapter_model.safetensors"))
            assert wa.keys() == wb.keys()
            assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


@needs_data
def test_two_process_eval_equals_one(two_runs):
    run = two_runs / "train1"
    for n in (1, 2):
        done = _likra("eval", "--run", str(run), "--limit", "12", "--checkpoints", "all", "--out",
                      str(two_runs / f"eval{n}"), "--num-processes", str(n))
        assert done.returncode == 0, done.stderr[-3000:]
    a, b = (list(ScoreTable.load(two_runs / f"eval{n}" / "scores.csv")) for n in (1, 2))
    assert [(r.question_id, r.choice, r.head, r.checkpoint, r.n_tokens, r.gold) for r in a] == \
           [(r.question_id, r.choice, r.head, r.checkpoint, r.n_tokens, r.gold) for r in b]
    assert max(abs(x.logprob - y.logprob) / max(1.0, abs(x.logprob)) for x, y in zip(a, b)) < 1e-6
    ra, rb = (json.loads((two_runs / f"eval{n}" / "results.json").read_text())["results"] for n in (1, 2))
    assert ra == rb
    # the main process alone printed the report
    assert done.stdout.count("scores:") == 1


@needs_data
def test_two_process_rerun_resumes(two_runs, model_dir):
    """Rerunning the same 2-process training finds it finished: nothing retrained, said once."""
    final = two_runs / "train2" / "pos" / "checkpoint-000010" / "adapter_model.safetensors"
    before = final.stat().st_mtime_ns
    done = _likra("train", "--model", str(model_dir), "--n-train", "10", "--batch-size", "4", "--lr", "1e-2",
                  "--out", str(two_runs / "train2"), "--num-processes", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("pos: already trained") == 1 and final.stat().st_mtime_ns == before
