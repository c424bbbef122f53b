"""likra's command line: each subcommand parses flags into typed configs and calls the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from likra import __version__
from likra.config import (DataConfig, EvalConfig, ModelConfig, TrainRunConfig, from_dict, override,
                          read_config_file)
from likra.heads import LoraSettings
from likra.train import TrainConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here; a user with one unsets it
# raised inside peft on every adapter call with transformers 5; says nothing to a likra user
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

EPILOG = """examples:
  likra demo                                   train + evaluate on ARC with SmolLM2-135M (~10 min on 2 CPUs)
  likra train --model smollm2-135m --n-train 512 --out runs/arc512
  likra eval --run runs/arc512 --benchmark arc_challenge --limit 300 --checkpoints all
  likra score --run runs/arc512 --question "What do plants take in?" --answers "carbon dioxide" "oxygen"
  likra report runs/arc512/eval/arc_challenge-test/scores.csv --weights 0.5,1,2
Data is read from --data-root, $LIKRA_DATA, or ../shared/data beside the repository."""


def _model_args(p: argparse.ArgumentParser, default_spec: str | None = "smollm2-135m") -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help=f"named model (likra models), transformers folder, .gguf file or hub id"
                   f"{f' (default {default_spec})' if default_spec else ''}")
    g.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    g.add_argument("--dtype", default=None, help="auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16")
    g.add_argument("--cache-dir", default=None, help="converted-model cache (default $LIKRA_CACHE or ~/.cache/likra)")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the positive and negative heads", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train LoRA heads: pos on (question, correct answer), neg on (question, wrong answer). "
                                   "Saves each head at 1, 2, 4, ... examples and at the end; resumes if interrupted.")
    p.add_argument("--config", help="JSON or TOML file with [model] [data] [lora] [train] sections; flags override it")
    p.add_argument("--out", required=True, help="run folder (heads, run.json)")
    _model_args(p)
    d = p.add_argument_group("data")
    d.add_argument("--benchmark", help="training benchmark (default arc: all ARC questions minus the evaluation split)")
    d.add_argument("--train-split", help="split to train on (default all)")
    d.add_argument("--user-file", help="train on your own JSONL/CSV (docs/DATA_FORMAT.md)")
    d.add_argument("--eval-benchmark", help="benchmark kept out of training (default arc_challenge)")
    d.add_argument("--eval-split", help="its split (default test)")
    d.add_argument("--n-train", type=int, help="number of training questions, seeded sample (default all)")
    d.add_argument("--negatives", dest="negative_kind", choices=["near-miss", "irrelevant", "unrelated"])
    d.add_argument("--near-miss", dest="negative_strategy", choices=["random", "hardest", "easiest"],
                   help="which wrong choice: random, or hardest/easiest by the base model's score")
    d.add_argument("--unrelated-benchmark", help="source of unrelated negatives (default hellaswag)")
    d.add_argument("--data-root", help="benchmark data folder")
    d.add_argument("--lenient", action="store_true", default=None, help="skip malformed rows (counted and reported)")
    d.add_argument("--seed", type=int, help="seed of data sampling, negatives and training order (default 0)")
    t = p.add_argument_group("training (paper defaults)")
    t.add_argument("--lr", type=float, help="constant learning rate (default 1e-4)")
    t.add_argument("--batch-size", type=int, help="examples per step (default 8)")
    t.add_argument("--epochs", type=int, help="default 1")
    t.add_argument("--grad-clip", type=float, help="default 1.0")
    t.add_argument("--lora-r", type=int, help="default 8")
    t.add_argument("--lora-alpha", type=int, help="default 8")
    t.add_argument("--lora-dropout", type=float, help="default 0")
    t.add_argument("--target-modules", help="comma-separated module names (default: the MLP projections)")
    t.add_argument("--no-curve", action="store_true", help="save only the final heads")
    only = t.add_mutually_exclusive_group()
    only.add_argument("--negatives-only", action="store_true", help="train the negative head only (Base-Likra)")
    only.add_argument("--positives-only", action="store_true", help="train the positive head only (SFT)")
    p.add_argument("--no-resume", action="store_true", help="ignore saved state and start over")
    p.set_defaults(func=cmd_train)


def _train_config(a) -> TrainRunConfig:
    cfg = from_dict(TrainRunConfig, read_config_file(a.config)) if a.config else TrainRunConfig()
    targets = tuple(a.target_modules.split(",")) if a.target_modules else None
    heads = ("neg",) if a.negatives_only else ("pos",) if a.positives_only else None
    return override(
        cfg, heads=heads,
        model=override(cfg.model, spec=a.model, device=a.device, dtype=a.dtype, cache_dir=a.cache_dir),
        data=override(cfg.data, benchmark=a.benchmark, train_split=a.train_split, user_file=a.user_file,
                      eval_benchmark=a.eval_benchmark, eval_split=a.eval_split, n_train=a.n_train,
                      negative_kind=a.negative_kind, negative_strategy=a.negative_strategy,
                      unrelated_benchmark=a.unrelated_benchmark, data_root=a.data_root, lenient=a.lenient, seed=a.seed),
        lora=override(cfg.lora, r=a.lora_r, alpha=a.lora_alpha, dropout=a.lora_dropout, target_modules=targets),
        train=override(cfg.train, lr=a.lr, batch_size=a.batch_size, epochs=a.epochs, grad_clip=a.grad_clip,
                       seed=a.seed, curve=False if a.no_curve else None))


def cmd_train(a) -> int:
    from likra.pipeline import train_run

    cfg = _train_config(a)
    record = train_run(cfg, a.out, resume=not a.no_resume, progress=not a.quiet)
    for head, r in record["heads"].items():
        last = r["losses"][-1][2] if r["losses"] else float("nan")
        print(f"{head}: {r['examples_seen']} examples, {r['steps']} steps, last loss {last:.3f}, "
              f"{len(r['checkpoints'])} checkpoints in {Path(a.out) / head}")
    print(f"run record: {Path(a.out) / 'run.json'}")
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="accuracy of base, SFT, Likra and Base-Likra with 95%% intervals",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       description="Score every choice under base, pos and neg in one pass, save the score table, "
                                   "and report every decision rule (acc and per-character acc_norm).")
    p.add_argument("--run", help="training run folder with the heads (omit to evaluate the bare model)")
    p.add_argument("--out", help="output folder (default RUN/eval/BENCHMARK-SPLIT)")
    _model_args(p, default_spec=None)
    p.add_argument("--benchmark", default="arc_challenge")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, help="evaluate a seeded subset of N questions")
    p.add_argument("--shots", type=int, default=0, help="few-shot examples (lm-eval style)")
    p.add_argument("--checkpoints", default="final", help="final (default), all, or e.g. 64,256")
    p.add_argument("--weights", default="1", help="comma-separated w for L+ - w*L- (default 1)")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="padded tokens per scoring forward pass (default: 1024 on CPU, 16384 on CUDA)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--data-root")
    p.add_argument("--plot", action="store_true", help="also write accuracy.png")
    p.set_defaults(func=cmd_eval)


def cmd_eval(a) -> int:
    from likra.evaluate import evaluate, format_report
    from likra.plots import plot_report

    if not a.run and not a.model:
        raise SystemExit("likra eval: give --run (heads) and/or --model")
    cfg = EvalConfig(a.benchmark, a.split, a.limit, a.shots, a.checkpoints,
                     tuple(float(w) for w in a.weights.split(",")), a.batch_tokens, a.seed, a.data_root)
    out = Path(a.out) if a.out else Path(a.run or "runs/base") / "eval" / f"{a.benchmark}-{a.split}"
    rep = evaluate(cfg, a.run, out, a.model, a.device or "auto", a.dtype or "auto", a.cache_dir, progress=not a.quiet)
    print(format_report(rep))
    if a.plot:
        print(f"plot: {plot_report(rep, out / 'accuracy.png', f'{a.benchmark} {a.split}')}")
    print(f"scores: {out / 'scores.csv'}  results: {out / 'results.json'}")
    return 0


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="rank candidate answers by Likra score (the verifier use)",
                       description="Score candidate answers to a question: per-answer log-likelihoods under each head, "
                                   "the Likra score and a probability over the candidates, as JSON.")
    p.add_argument("--run", help="training run folder with the heads")
    _model_args(p, default_spec=None)
    p.add_argument("--question", help="the question")
    p.add_argument("--answers", nargs="+", help="candidate answers")
    p.add_argument("--input", help="JSONL file, one {\"question\": ..., \"answers\": [...]} per line")
    p.add_argument("--weight", type=float, default=1.0, help="w in L+ - w*L-")
    p.add_argument("--norm", default="char", choices=["none", "char", "token", "byte"])
    p.set_defaults(func=cmd_score)


def cmd_score(a) -> int:
    from likra.data.readers import read_jsonl
    from likra.likra_model import load_likra
    from likra.verify import score_candidates

    if a.input:
        rows, _ = read_jsonl(a.input)
        items = [(r["question"], r["answers"]) for _, r in rows]
    elif a.question and a.answers:
        items = [(a.question, a.answers)]
    else:
        raise SystemExit("likra score: give --question and --answers, or --input FILE.jsonl")
    likra = load_likra(a.model, a.run, a.device or "auto", a.dtype or "auto", a.cache_dir)
    for q, answers in items:
        print(json.dumps(score_candidates(likra, q, answers, a.weight, a.norm)))
    return 0


def _add_small(sub) -> None:
    p = sub.add_parser("report", help="recompute accuracies from a saved score table (no model needed)")
    p.add_argument("table", help="scores.csv written by likra eval")
    p.add_argument("--weights", default="1", help="comma-separated w")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("demo", help="train and evaluate on real data with a small packaged model (~10 min on CPU)")
    from likra.demo import add_demo_args

    add_demo_args(p)
    p = sub.add_parser("models", help="list the named packaged models and whether they are installed")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("benchmarks", help="list the benchmarks in the registry")
    p.set_defaults(func=cmd_benchmarks)


def cmd_report(a) -> int:
    from likra.evaluate import format_report, report
    from likra.scoring.table import ScoreTable

    rep = report(ScoreTable.load(a.table), tuple(float(w) for w in a.weights.split(",")))
    print(json.dumps(rep, indent=2) if a.json else format_report(rep))
    return 0


def cmd_models(a) -> int:
    from likra.models import list_models

    for m in list_models():
        state = "installed" if m.get("installed") else f"not installed: {m.get('install')}"
        print(f"{m['name']:<22} {m.get('description', '')}\n{'':<22} {state}")
    return 0


def cmd_benchmarks(a) -> int:
    from likra.data.benchmarks import get_benchmark, list_benchmarks

    for name in list_benchmarks():
        b = get_benchmark(name)
        print(f"{name:<16} {b.description}  splits: {', '.join(b.splits)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="likra", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                                description="Teach a language model from negative examples: a positive and a negative "
                                            "LoRA head on one base model; answers ranked by L+ - w*L-.")
    p.add_argument("--version", action="version", version=f"likra {__version__}")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_eval(sub)
    _add_score(sub)
    _add_small(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # bad input: a clear message, no traceback
        print(f"likra {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlikra {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
