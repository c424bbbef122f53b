"""likra's command line: each subcommand parses flags into typed configs and calls the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from pathlib import Path

from likra import __version__
from likra.config import (LENGTH_POLICIES, NEGATIVE_KINDS, OBJECTIVES, DataConfig, EvalConfig, LoraSettings,
                          TrainConfig, TrainRunConfig, from_dict, override, read_config_file)
from likra import launch
from likra.errors import ConfigError, LikraError
from likra.log import set_level

# raised inside peft on every adapter call with transformers 5; says nothing to a likra user
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

EPILOG = """examples:
  likra demo                                   train + evaluate on ARC with SmolLM2-135M (~3 min on 2 CPUs)
  likra train --model smollm2-135m --n-train 512 --out runs/arc512
  likra eval --run runs/arc512 --benchmark arc_challenge --limit 300 --checkpoints all
  likra score --run runs/arc512 --question "What do plants take in?" --answers "carbon dioxide" "oxygen"
  likra report runs/arc512/eval/arc_challenge-test/scores.csv --weights 0.5,1,2
  likra eval --run runs/arc512 --num-processes 8     data parallel over 8 GPUs (accelerate launch)
  likra lm-eval --model likra --model_args run=runs/arc512,mode=likra --tasks arc_challenge
Data is read from --data-root, $LIKRA_DATA, or ../shared/data beside the repository.
Exit codes: 0 done, 2 bad input or an unfinished/damaged run (a one-paragraph message says which and
how to fix it), 1 a bug in likra (with its traceback), 130 interrupted (rerun the same command to resume)."""

from likra.cli_args import (FLAGS, _model_args, common_options, default, finite_float, flag_errors,  # noqa: F401
                            weight_list)


def _add_train(sub, common) -> None:
    D, T, L = DataConfig, TrainConfig, LoraSettings
    p = sub.add_parser("train", help="train the positive and negative heads", epilog=EPILOG, parents=[common],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train LoRA heads: pos on (question, correct answer), "
                                   "neg on (question, wrong answer). "
                                   "Saves each head at 1, 2, 4, ... examples and at the end; resumes if interrupted. "
                                   "Every file and setting is checked before the model loads.")
    p.add_argument("--config", help="JSON or TOML file with [model] [data] [lora] [train] sections; flags override it")
    p.add_argument("--out", required=True, help="run folder (heads, run.json)")
    _model_args(p)
    d = p.add_argument_group("data")
    d.add_argument("--benchmark", help=f"training benchmark (default {default(D, 'benchmark')}: all its questions "
                                       "minus the evaluation split)")
    d.add_argument("--train-split", help=f"split to train on (default {default(D, 'train_split')})")
    d.add_argument("--user-file", help="train on your own JSONL/CSV (docs/DATA_FORMAT.md)")
    d.add_argument("--eval-benchmark", help=f"benchmark kept out of training (default {default(D, 'eval_benchmark')})")
    d.add_argument("--eval-split", help=f"its split (default {default(D, 'eval_split')})")
    d.add_argument("--n-train", type=int, help="number of training questions, a seeded sample (default: all)")
    d.add_argument("--negatives", dest="negative_kind", choices=list(NEGATIVE_KINDS),
                   help="what the negative head learns: near-miss = another choice of the same question, irrelevant = "
                        "another question's answer, unrelated = an answer from --unrelated-benchmark, mined = the "
                        "question's own `negatives` in --user-file (e.g. written by likra mine) "
                        f"(default {default(D, 'negative_kind')})")
    d.add_argument("--near-miss", dest="negative_strategy", choices=["random", "hardest", "easiest"],
                   help="which wrong choice: random, or hardest/easiest by the base model's score "
                        f"(default {default(D, 'negative_strategy')})")
    d.add_argument("--unrelated-benchmark",
                   help=f"source of unrelated negatives (default {default(D, 'unrelated_benchmark')})")
    d.add_argument("--data-root", help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    d.add_argument("--lenient", action="store_true", default=None, help="skip malformed rows (counted and reported)")
    d.add_argument("--length-policy", choices=["error", "skip"],
                   help="a training example longer than the model's context: error (default, lists them) or skip "
                        "(its question is left out of both heads, counted)")
    d.add_argument("--seed", type=int,
                   help=f"seed of data sampling, negatives and training order (default {default(D, 'seed')})")
    t = p.add_argument_group("training (paper defaults)")
    t.add_argument("--lr", type=finite_float, help=f"constant learning rate (default {default(T, 'lr'):g})")
    t.add_argument("--batch-size", type=int, help=f"examples per step (default {default(T, 'batch_size')})")
    t.add_argument("--epochs", type=int, help=f"passes over the data (default {default(T, 'epochs')})")
    t.add_argument("--grad-clip", type=finite_float,
                   help=f"max gradient norm, 0 = none (default {default(T, 'grad_clip'):g})")
    t.add_argument("--lora-r", type=int, help=f"LoRA rank (default {default(L, 'r')})")
    t.add_argument("--lora-alpha", type=finite_float, help=f"LoRA alpha (default {default(L, 'alpha'):g})")
    t.add_argument("--lora-dropout", type=finite_float, help=f"LoRA dropout (default {default(L, 'dropout'):g})")
    t.add_argument("--target-modules", help="comma-separated module names (default: the MLP projections)")
    t.add_argument("--objective", choices=list(OBJECTIVES),
                   help="the loss: nll (default: pos and neg heads each on their own answers, Likra); unlikelihood, "
                        "dpo, simpo, orpo, kto or infonca train one head (stored as pos) from gold and wrong answers")
    t.add_argument("--beta", type=finite_float, help="temperature of dpo/simpo/orpo/kto/infonca (default: TRL's)")
    t.add_argument("--gamma", type=finite_float,
                   help="SimPO's target reward margin gamma, as TRL's simpo_gamma (default 0.5)")
    t.add_argument("--alpha", type=finite_float, help="weight of unlikelihood's negative term (default 1)")
    t.add_argument("--no-curve", action="store_true", help="save only the final heads")
    only = t.add_mutually_exclusive_group()
    only.add_argument("--negatives-only", action="store_true", help="train the negative head only (Base-Likra)")
    only.add_argument("--positives-only", action="store_true", help="train the positive head only (SFT)")
    p.add_argument("--no-resume", action="store_true", help="ignore saved state and start over (removes the old heads)")
    launch.add_argument(p)
    p.set_defaults(func=cmd_train, check=_train_config)


def _train_config(a) -> TrainRunConfig:
    cfg = from_dict(TrainRunConfig, read_config_file(a.config), where=a.config) if a.config else TrainRunConfig()
    targets = tuple(t.strip() for t in a.target_modules.split(",")) if a.target_modules is not None else None
    heads = ("neg",) if a.negatives_only else ("pos",) if a.positives_only else None
    return flag_errors(lambda: override(
        cfg, heads=heads,
        model=override(cfg.model, spec=a.model, device=a.device, dtype=a.dtype, cache_dir=a.cache_dir),
        data=override(cfg.data, benchmark=a.benchmark, train_split=a.train_split, user_file=a.user_file,
                      eval_benchmark=a.eval_benchmark, eval_split=a.eval_split, n_train=a.n_train,
                      negative_kind=a.negative_kind, negative_strategy=a.negative_strategy,
                      unrelated_benchmark=a.unrelated_benchmark, data_root=a.data_root, lenient=a.lenient,
                      length_policy=a.length_policy, seed=a.seed),
        lora=override(cfg.lora, r=a.lora_r, alpha=a.lora_alpha, dropout=a.lora_dropout, target_modules=targets),
        train=override(cfg.train, lr=a.lr, batch_size=a.batch_size, epochs=a.epochs, grad_clip=a.grad_clip,
                       seed=a.seed, curve=False if a.no_curve else None,
                       objective=override(cfg.train.objective, name=a.objective, beta=a.beta, gamma=a.gamma,
                                          alpha=a.alpha))))


def cmd_train(a) -> int:
    from likra.pipeline import train_run

    cfg = _train_config(a)
    record = flag_errors(lambda: train_run(cfg, a.out, resume=not a.no_resume, progress=not a.quiet))
    for head, r in record["heads"].items():
        last = r["losses"][-1][2] if r["losses"] else float("nan")
        print(f"{head}: {r['examples_seen']} examples, {r['steps']} steps, last loss {last:.3f}, "
              f"{len(r['checkpoints'])} checkpoints in {Path(a.out) / head}")
    print(f"run record: {Path(a.out) / 'run.json'}")
    return 0


def _add_eval(sub, common) -> None:
    E = EvalConfig
    p = sub.add_parser("eval", help="accuracy of base, SFT, Likra and Base-Likra with 95%% intervals", parents=[common],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       description="Score every choice under base, pos and neg in one pass, save the score table, "
                                   "and report every decision rule (acc and per-character acc_norm). An interrupted "
                                   "eval resumes when rerun with the same settings; "
                                   "with other settings it starts over.")
    p.add_argument("--run", help="training run folder with the heads (omit to evaluate the bare model)")
    p.add_argument("--out", help="output folder (default RUN/eval/BENCHMARK-SPLIT)")
    _model_args(p, default_spec=None)
    p.add_argument("--benchmark", default=default(E, "benchmark"), help="benchmark to evaluate (default %(default)s)")
    p.add_argument("--split", default=default(E, "split"), help="its split (default %(default)s)")
    p.add_argument("--limit", type=int, help="evaluate a seeded subset of N questions (default: all)")
    p.add_argument("--shots", type=int, default=default(E, "shots"),
                   help="few-shot examples before each question, drawn as lm-eval draws them (default %(default)s)")
    p.add_argument("--checkpoints", default=default(E, "checkpoints"),
                   help="final (default: the end of training), all (a learning curve over the checkpoints every head "
                        "has), or examples seen such as 64,256")
    p.add_argument("--weights", type=weight_list, default=default(E, "weights"),
                   help="comma-separated w for L+ - w*L- (default 1)")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="padded tokens per scoring forward pass (default: 1024 on CPU, 16384 on CUDA)")
    p.add_argument("--length-policy", choices=LENGTH_POLICIES, default=default(E, "length_policy"),
                   help="a question longer than the model's context: error (default, lists them), truncate (cut the "
                        "left of the context, as lm-eval does) or skip (left out, counted)")
    p.add_argument("--seed", type=int, default=default(E, "seed"),
                   help="seed of the subset and the few-shot draw (default %(default)s, as lm-eval)")
    p.add_argument("--data-root", help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    p.add_argument("--plot", action="store_true", help="also write accuracy.png")
    launch.add_argument(p)
    p.set_defaults(func=cmd_eval, check=_eval_config)


def _eval_config(a) -> EvalConfig:
    if not a.run and not a.model:
        raise ConfigError("likra eval: give --run (a training run with heads) and/or --model (a bare model)")
    return flag_errors(lambda: EvalConfig(a.benchmark, a.split, a.limit, a.shots, a.checkpoints, a.weights,
                                          a.batch_tokens, a.seed, a.data_root, a.length_policy))


def cmd_eval(a) -> int:
    from likra.evaluate import evaluate, format_report
    from likra.plots import plot_report

    cfg = _eval_config(a)
    out = Path(a.out) if a.out else Path(a.run or "runs/base") / "eval" / f"{a.benchmark}-{a.split}"
    rep = evaluate(cfg, a.run, out, a.model, a.device or "auto", a.dtype or "auto", a.cache_dir, progress=not a.quiet)
    print(format_report(rep))
    if a.plot:
        print(f"plot: {plot_report(rep, out / 'accuracy.png', f'{a.benchmark} {a.split}')}")
    print(f"scores: {out / 'scores.csv'}  results: {out / 'results.json'}")
    return 0


def _add_score(sub, common) -> None:
    p = sub.add_parser("score", help="rank candidate answers by Likra score (the verifier use)", parents=[common],
                       description="Score candidate answers to a question: per-answer log-likelihoods under each head, "
                                   "the Likra score and a probability over the candidates, as JSON (one line per "
                                   "question). The heads are those of --run at --checkpoint.")
    p.add_argument("--run", help="training run folder with the heads")
    _model_args(p, default_spec=None)
    p.add_argument("--checkpoint", default="final",
                   help="final (default: the end of training) or the examples seen of a saved checkpoint, e.g. 256")
    p.add_argument("--question", help="the question")
    p.add_argument("--answers", nargs="+", help="candidate answers")
    p.add_argument("--input", help="JSONL file, one {\"question\": ..., \"answers\": [...]} per line")
    p.add_argument("--weight", type=finite_float, default=1.0, help="w in L+ - w*L- (default %(default)s)")
    p.add_argument("--norm", default="char", choices=["none", "char", "token", "byte"],
                   help="divide each log-likelihood by the answer's characters (default, as lm-eval acc_norm), "
                        "tokens or bytes, or none")
    p.set_defaults(func=cmd_score)


def cmd_score(a) -> int:
    from likra.models.likra_model import load_likra
    from likra.verify import candidate_items, score_candidates

    items = candidate_items(a.input, a.question, a.answers, "likra score")
    if not a.run and not a.model:
        raise ConfigError("likra score: give --run (a training run with heads) and/or --model (a bare model)")
    if a.checkpoint != "final" and not a.checkpoint.isdigit():
        raise ConfigError(f"--checkpoint: 'final' or a number of examples seen, got {a.checkpoint!r}")
    if a.weight < 0:
        raise ConfigError(f"--weight: must be >= 0, got {a.weight:g}")
    likra = load_likra(a.model, a.run, a.device or "auto", a.dtype or "auto", a.cache_dir, checkpoint=a.checkpoint)
    for q, answers in items:
        print(json.dumps(score_candidates(likra, q, answers, a.weight, a.norm)))
    return 0


def _add_small(sub, common) -> None:
    p = sub.add_parser("report", help="recompute accuracies from a saved score table (no model needed)",
                       parents=[common], description="Recompute every rule from a saved score table. The table is "
                       "checked first: a truncated or edited table is an error naming the line, "
                       "never a changed number.")
    p.add_argument("table", help="scores.csv written by likra eval")
    p.add_argument("--weights", type=weight_list, default=(1.0,), help="comma-separated w (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("demo", help="train and evaluate on real data with a small packaged model (~3 min on 2 CPUs)",
                       parents=[common])
    from likra.demo import add_demo_args

    add_demo_args(p)
    p = sub.add_parser("models", help="list the named packaged models and whether they are installed", parents=[common])
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("benchmarks", help="list the benchmarks in the registry", parents=[common])
    p.set_defaults(func=cmd_benchmarks)


def cmd_report(a) -> int:
    from likra.evaluate import check_table_digest, format_report, report
    from likra.scoring.table import ScoreTable

    weights = flag_errors(lambda: EvalConfig(weights=a.weights).weights)
    table = ScoreTable.load(a.table)
    check_table_digest(a.table)
    rep = report(table, weights)
    print(json.dumps(rep, indent=2) if a.json else format_report(rep))
    return 0


def cmd_models(a) -> int:
    from likra.models.loading import list_models

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
                                parents=[common_options(top=True)],
                                description="Teach a language model from negative examples: a positive and a negative "
                                            "LoRA head on one base model; answers ranked by L+ - w*L-.")
    p.add_argument("--version", action="version", version=f"likra {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options(top=False)
    _add_train(sub, common)
    _add_eval(sub, common)
    _add_score(sub, common)
    _add_small(sub, common)
    from likra.experiments.command import add_parser as add_experiment

    add_experiment(sub, common, EPILOG)
    from likra.mining.command import add_parser as add_mine
    from likra.verifier.command import add_parser as add_verify

    add_verify(sub, common)
    add_mine(sub, common)
    # handled before parsing (main): every argument after it is lm-eval's own; listed here for --help
    sub.add_parser("lm-eval", help="lm-evaluation-harness's own command line with the `likra` model registered "
                                   "(docs/LM_EVAL.md)", add_help=False)
    return p


# expected failures: a message and exit 2. Anything else is a bug and keeps its traceback.
EXPECTED = (LikraError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail on the closed pipe again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        sys.stdout = open(os.devnull, "w")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["lm-eval"]:  # every later argument is lm-eval's own
        from likra.integrations.lm_eval import main as lm_eval_main

        return lm_eval_main(argv[1:])
    args = build_parser().parse_args(argv)
    set_level(verbose=args.verbose)
    if launch.launched() and os.environ.get("RANK", "0") != "0":
        sys.stdout = open(os.devnull, "w")  # data parallel: the main process prints the results
    try:
        if getattr(args, "num_processes", 1) > 1 and not launch.launched():
            args.check(args)  # bad flags fail here, once, before any process starts
            return launch.relaunch(argv, args.num_processes)
        return args.func(args)
    except KeyboardInterrupt:
        print(f"\nlikra {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`likra ... | head`): not an error of likra's; say nothing more
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command a closed pipe stopped
    except EXPECTED as e:
        if args.debug:
            raise
        print(f"likra {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.debug:
            raise
        if type(e).__name__ == "OutOfMemoryError":  # torch's, named without importing torch
            print(f"likra {args.command}: error: out of memory ({e}); lower --batch-tokens or --batch-size",
                  file=sys.stderr)
            return 2
        traceback.print_exc()
        print(f"likra {args.command}: internal error: this is a bug in likra, not in your input; please report "
              "it with the traceback above", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
