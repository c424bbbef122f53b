"""`likra demo`: the main job on an embedded default, small enough for 2 CPU cores.

Trains both heads on a few hundred ARC questions (never ARC-Challenge test ones) with a real packaged
model, evaluates base, SFT, Likra and Base-Likra on a fixed ARC-Challenge test subset, prints the
table and writes a plot. Every number can be recomputed from the saved score table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_MODEL = "smollm2-135m"


def add_demo_args(p: argparse.ArgumentParser) -> None:
    from likra.cli import finite_float

    p.description = __doc__.split("\n\n")[1].replace("\n", " ")
    p.add_argument("--model", default=DEMO_MODEL, help=f"base model (default {DEMO_MODEL})")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--n-train", type=int, default=512, help="training questions per head (default 512)")
    p.add_argument("--n-test", type=int, default=400, help="ARC-Challenge test questions evaluated (default 400)")
    p.add_argument("--lr", type=finite_float, default=5e-4,
                   help="learning rate (default 5e-4: few examples, small model)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, negatives and training order (default 0)")
    p.add_argument("--data-root", default=None, help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.set_defaults(func=run_demo)


def run_demo(a) -> int:
    from likra.cli import FLAGS, flag_errors
    from likra.config import DataConfig, EvalConfig, ModelConfig, TrainConfig, TrainRunConfig
    from likra.evaluate import evaluate, format_report
    from likra.pipeline import train_run
    from likra.plots import plot_report

    t0 = time.time()
    out = Path(a.out)
    # both configs first: a bad --n-test fails before minutes of training, not after
    cfg = flag_errors(lambda: TrainRunConfig(
        model=ModelConfig(spec=a.model, device=a.device),
        data=DataConfig(benchmark="arc", eval_benchmark="arc_challenge", eval_split="test", n_train=a.n_train,
                        seed=a.seed, data_root=a.data_root),
        train=TrainConfig(lr=a.lr, seed=a.seed)))
    ev = flag_errors(lambda: EvalConfig(benchmark="arc_challenge", split="test", limit=a.n_test, data_root=a.data_root),
                     {**FLAGS, "eval.limit": "--n-test"})
    train_run(cfg, out, progress=not a.quiet)
    t_train = time.time() - t0
    rep = evaluate(ev, out, out / "eval", device=a.device, progress=not a.quiet)
    plot = plot_report(rep, out / "eval" / "accuracy.png",
                       f"{a.model}: ARC-Challenge test ({a.n_test} q), heads trained on {a.n_train} ARC questions")
    print(f"\nlikra demo: {a.model}, {a.n_train} training questions per head, {a.n_test} ARC-Challenge test questions")
    print(format_report(rep))
    print(f"\ntrain {t_train:.0f}s, eval {rep['seconds']:.0f}s, total {time.time() - t0:.0f}s")
    print(f"plot: {plot}\nscores: {out / 'eval' / 'scores.csv'}\nrun record: {out / 'run.json'}")
    return 0
