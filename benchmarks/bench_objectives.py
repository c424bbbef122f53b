#!/usr/bin/env python3
"""Training throughput of each objective relative to `nll`, side by side in one process.

Every objective trains the same head from the same initial adapters on the same training questions,
in the same order, for the same number of optimiser steps, with likra's HeadTrainer (packed rows,
batch --batch-size questions). What differs is what a question costs each objective:
  nll           one sequence (the gold answer; Likra trains a second head the same way on the wrong one)
  unlikelihood, simpo, orpo   two sequences (gold, wrong), one forward with grad
  kto, dpo      two sequences, plus a forward without grad for the reference (the adapter switched off)
  infonca       gold and every wrong choice (ARC: 4 sequences), plus the reference forward
Measured: seconds per step, training questions per second, and the ratio to nll (> 1: slower).
Rounds rotate the order of the objectives so slow drift of the machine spreads over all of them;
the 1-minute load average is recorded (a figure taken under load says so).

  python benchmarks/bench_objectives.py                       # smollm2-135m, 24 steps of 8 questions
  python benchmarks/bench_objectives.py --tiny --steps 3      # tiny random llama (the test suite)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load(args):
    from likra.models.loading import load_model

    if not args.tiny:
        return load_model(args.model)
    from likra.testing import build_model, build_tokenizer
    from likra.models.loading import LoadedModel

    return LoadedModel(build_model("llama"), build_tokenizer(), [], {"spec": "tiny-llama"})


def time_objective(loaded, name: str, units: list, args, workdir: Path) -> dict:
    from likra.config import ObjectiveConfig, TrainConfig
    from likra.models.heads import heads_on
    from likra.training.trainer import HeadTrainer

    model = heads_on(loaded, seed=0)  # the same initial adapters for every objective
    cfg = TrainConfig(lr=1e-4, batch_size=args.batch_size, curve=False, state_every=10**6,
                      objective=ObjectiveConfig(name=name))
    trainer = HeadTrainer(model, loaded.tokenizer, loaded.prefix_token_ids, "pos", workdir / name, cfg, progress=False)
    t0 = time.perf_counter()
    trainer.train(units[:args.steps * args.batch_size], resume=False)
    return {"seconds": time.perf_counter() - t0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m", help="base model (default smollm2-135m)")
    p.add_argument("--tiny", action="store_true", help="a tiny random llama instead (for the test suite)")
    p.add_argument("--steps", type=int, default=24, help="optimiser steps per objective (default 24)")
    p.add_argument("--batch-size", type=int, default=8, help="training questions per step (default 8)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, each over every objective (default 2)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()

    from likra.config import OBJECTIVES, DataConfig
    from likra.io_utils import library_versions
    from likra.pipeline import build_training_data, training_units

    data = build_training_data(DataConfig(n_train=args.steps * args.batch_size, seed=0))
    loaded = load(args)
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in OBJECTIVES}
    with tempfile.TemporaryDirectory() as tmp:
        for name in OBJECTIVES:  # warm-up, untimed: first-call costs (allocations, attention setup) for each
            time_objective(loaded, name, list(training_units(name, data)["pos"]), argparse.Namespace(
                steps=1, batch_size=args.batch_size), Path(tmp) / "warm")
        for r in range(args.rounds):
            order = OBJECTIVES[r % len(OBJECTIVES):] + OBJECTIVES[:r % len(OBJECTIVES)]
            for name in order:
                units = training_units(name, data)["pos"]
                times[name].append(time_objective(loaded, name, list(units), args, Path(tmp) / f"r{r}")["seconds"])
    rows = []
    nll = statistics.median(times["nll"])
    for name in OBJECTIVES:
        s = statistics.median(times[name])
        units = training_units(name, data)["pos"][: args.steps * args.batch_size]
        seqs = sum(len(u) if isinstance(u, tuple) else 1 for u in units)
        rows.append({"objective": name, "seconds_per_step": s / args.steps, "questions_per_s": len(units) / s,
                     "sequences_per_question": seqs / len(units), "time_vs_nll": s / nll, "runs": times[name]})
    load_after = os.getloadavg()[0]
    print(f"{'objective':<13} {'s/step':>7} {'questions/s':>12} {'seqs/question':>14} {'time vs nll':>12}")
    for r in rows:
        print(f"{r['objective']:<13} {r['seconds_per_step']:7.3f} {r['questions_per_s']:12.2f} "
              f"{r['sequences_per_question']:14.2f} {r['time_vs_nll']:11.2f}x")
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after"
          + ("  -- NOT a quiet machine: ratios only" if load_before > 1.0 else "")
          + "  (the second figure includes this benchmark's own threads)")
    if args.out:
        record = {"command": " ".join(sys.argv), "model": "tiny-llama" if args.tiny else args.model,
                  "steps": args.steps, "batch_size": args.batch_size, "rounds": args.rounds, "results": rows,
                  "load_average": [load_before, load_after], "versions": library_versions()}
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
