"""`likra experiment NAME`: flags and config file -> ExperimentConfig -> run_experiment."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from likra.config import ExperimentConfig, from_dict, override, read_config_file

E = ExperimentConfig
FLAGS = {f"experiment.{f.name}": "--" + f.name.replace("_", "-") for f in fields(E)}


def _default(name: str):
    return next(f.default for f in fields(E) if f.name == name)


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip() or _raise())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as 0,1,2, "
                                         f"got {text!r}") from None


def _raise():
    raise ValueError


def limit(text: str) -> int | str:
    if text == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of questions or 'all', got {text!r}") from None


def add_parser(sub, common, epilog: str) -> None:
    from likra.cli import finite_float, weight_list
    from likra.experiments import EXPERIMENTS

    listing = "\n".join(f"  {e.name:<12} {f'({e.figure}) ' if e.figure else ''}{e.summary}"
                        for e in EXPERIMENTS.values())
    p = sub.add_parser("experiment", help="re-run one of the paper's findings with several seeds and 95%% intervals",
                       parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run one of the paper's experiments: trains one run per seed (or reuses the "
                                   "runs already in --out), scores every checkpoint on a fixed subset, and writes "
                                   "NAME.csv, NAME-summary.csv (mean and 95% interval across seeds), NAME.json, "
                                   "NAME.png and NAME.md (the summary at a glance) into --out. "
                                   "Experiments run into the same folder share their "
                                   "runs. Rerun the same command to resume.\n\nexperiments:\n" + listing,
                       epilog="example:\n"
                              "  likra experiment curve --out runs/exp/smollm2-arc --seeds 0,1,2 --limit 500\n"
                              "  likra experiment weights --out runs/exp/smollm2-arc   (reuses curve's runs)")
    p.add_argument("name", choices=list(EXPERIMENTS), help="which experiment")
    p.add_argument("--out", required=True, help="experiment folder (runs, tables, results, plots)")
    p.add_argument("--config", help="JSON or TOML file with an [experiment] section; flags override it")
    g = p.add_argument_group("what to run (defaults: the paper's settings)")
    g.add_argument("--model", help=f"base model (default {_default('model')})")
    g.add_argument("--benchmark", help=f"training benchmark (default {_default('benchmark')})")
    g.add_argument("--train-split", help=f"its split (default {_default('train_split')})")
    g.add_argument("--eval-benchmark", help=f"benchmark evaluated (default {_default('eval_benchmark')})")
    g.add_argument("--eval-split", help=f"its split (default {_default('eval_split')})")
    g.add_argument("--seeds", type=int_list, help="comma-separated seeds, one run each (default 0,1,2)")
    g.add_argument("--n-train", type=int, help="training questions per head (default: all)")
    g.add_argument("--limit", type=limit,
                   help=f"fixed seeded subset of test questions, or all (default {_default('limit')})")
    g.add_argument("--shots", type=int, help=f"few-shot examples (default {_default('shots')})")
    g.add_argument("--eval-seed", type=int,
                   help=f"seed of the test subset and few-shot draw (default {_default('eval_seed')})")
    g.add_argument("--lr", type=finite_float, help=f"constant learning rate (default {_default('lr'):g})")
    g.add_argument("--batch-size", type=int, help=f"examples per step (default {_default('batch_size')})")
    g.add_argument("--weights", type=weight_list, help="w values of the weights sweep (default 0 to 1.5 by 0.05)")
    g.add_argument("--at", type=int_list, help="checkpoints of the weights sweep (default: 64, 256 and the final one)")
    g.add_argument("--negative-kinds", help="negative heads of the negatives experiment (default "
                                            f"{','.join(_default('negative_kinds'))}; also mined: the base "
                                            "model's own wrong answers to the same questions)")
    g.add_argument("--objectives", help="preference objectives of the objectives experiment (default "
                                        f"{','.join(_default('objectives'))})")
    g.add_argument("--beta", type=finite_float, help="their temperature (default: each one's, TRL's)")
    g.add_argument("--unrelated-benchmark",
                   help=f"source of unrelated answers (default {_default('unrelated_benchmark')})")
    g.add_argument("--norm", choices=["char", "none"], help="char: acc_norm, per-character (default); none: acc")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    g.add_argument("--dtype", help="auto (default: float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16")
    g.add_argument("--data-root", help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    g.add_argument("--finished-only", action="store_true", default=None,
                   help="use only the runs already trained and scored with these settings (no training, scoring "
                        "or mining): read a long experiment while it runs; each part left out is listed in the "
                        "record's 'skipped'")
    g.add_argument("--keep-from", metavar="RECORD",
                   help="an earlier NAME.json of the same experiment and settings (e.g. a committed one): the seeds "
                        "and series it holds that the runs in --out lack are kept in the new record, so a record "
                        "grows across machines or after its run folders are gone; rows both have are taken from "
                        "the runs, and any that differ are counted and logged")
    g.add_argument("--own-runs-only", action="store_true", default=None,
                   help="negatives, objectives: train and score only the experiment's own runs (negative-only "
                        "heads, one-head objectives), not the curve's run they pair with, and write no record: "
                        "run it beside `experiment curve` on another device or core, then rerun without it")
    p.set_defaults(func=cmd_experiment)


def experiment_config(a) -> ExperimentConfig:
    from likra.cli import flag_errors

    cfg = E()
    if a.config:
        values = read_config_file(a.config)
        cfg = from_dict(E, values.get("experiment", values), where=a.config)
    kinds = tuple(k.strip() for k in a.negative_kinds.split(",")) if a.negative_kinds else None
    objectives = tuple(k.strip() for k in a.objectives.split(",")) if a.objectives else None
    return flag_errors(lambda: override(
        cfg, model=a.model, benchmark=a.benchmark, train_split=a.train_split, eval_benchmark=a.eval_benchmark,
        eval_split=a.eval_split, seeds=a.seeds, n_train=a.n_train, shots=a.shots, eval_seed=a.eval_seed, lr=a.lr,
        batch_size=a.batch_size, weights=a.weights, at=a.at, negative_kinds=kinds, objectives=objectives, beta=a.beta,
        unrelated_benchmark=a.unrelated_benchmark, norm=a.norm, device=a.device, dtype=a.dtype,
        data_root=a.data_root, finished_only=a.finished_only, keep_from=a.keep_from,
        own_runs_only=a.own_runs_only,
        **({} if a.limit is None else {"limit": None if a.limit == "all" else a.limit})), FLAGS)


def cmd_experiment(a) -> int:
    from likra.experiments import run_experiment

    record = run_experiment(a.name, experiment_config(a), a.out, progress=not a.quiet)
    if "report" in record:  # an experiment that reads the others' records (claims) prints its own report
        print(record["report"], end="")
        print("\n".join(f"  {f}" for f in record["files"]))
        return 0
    if "own_runs" in record:
        print(f"{a.name}: trained and scored (no record written; rerun without --own-runs-only to write it):")
        print("\n".join(f"  {r}" for r in record["own_runs"]))
        return 0
    print(f"{a.name}: {len(record['rows'])} rows, {len(record['summary'])} summary rows over seeds {record['seeds']}")
    for part in record.get("skipped", []):
        print(f"  left out (not finished): {part}")
    if kept := record.get("kept_from"):
        r = kept["rows"]
        print(f"  kept from {kept['path']}: {r['kept']} rows; {r['recomputed']} recomputed here, "
              f"{r['recomputed_differing']} of them with other numbers")
    for ext in (".csv", "-summary.csv", ".json", ".png", ".md"):
        if (Path(a.out) / f"{a.name}{ext}").exists():
            print(f"  {a.out}/{a.name}{ext}")
    return 0
