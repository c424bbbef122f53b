"""`likra mine`: sample answers from the base model and keep the wrong ones as negatives (likra.mining.mine).

Every flag, the input questions and the checker are checked before the model loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from likra.cli_args import _model_args, default, finite_float, flag_errors
from likra.config import ModelConfig
from likra.errors import ConfigError
from likra.mining.generation import SamplingConfig

S = SamplingConfig
FLAGS = {"sample.k": "--k", "sample.seed": "--seed", "sample.max_new_tokens": "--max-new-tokens",
         "sample.temperature": "--temperature", "sample.top_p": "--top-p", "sample.batch_size": "--batch-size"}
EXAMPLES = """examples:
  likra mine --benchmark arc_easy --split train --n 200 --k 8 --checker choice --out mined.jsonl
  likra mine --input qa.jsonl --k 16 --checker match --out mined.jsonl
  likra train --user-file mined.jsonl --negatives mined --out runs/mined"""


def add_parser(sub, common) -> None:
    """Register `likra mine` on the CLI's subparsers."""
    from likra.mining.mine import CHECKERS

    p = sub.add_parser("mine", help="sample answers from the base model and keep the wrong ones as negatives",
                       parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES,
                       description="Sample K one-line answers per question from the base model, judge each against "
                                   "the gold answer, and write the questions with at least one wrong answer as a user "
                                   "file with `negatives` (docs/DATA_FORMAT.md), plus OUT.report.json beside it. "
                                   "Train on it with --user-file OUT --negatives mined.")
    src = p.add_argument_group("questions (one of)").add_mutually_exclusive_group(required=True)
    src.add_argument("--benchmark", help="a registered benchmark (likra benchmarks); not lettered or "
                                         "partial-scoring ones (mmlu, commonsense_qa, winogrande)")
    src.add_argument("--input", help="JSONL/CSV of question, answer (+ choices, aliases, id)")
    p.add_argument("--split", default="train", help="split of --benchmark (default %(default)s)")
    p.add_argument("--data-root", help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    p.add_argument("--n", type=int, help="mine a seeded sample of N questions (default: all)")
    p.add_argument("--out", required=True, help="output .jsonl (the report goes beside it as OUT.report.json)")
    p.add_argument("--checker", choices=list(CHECKERS),
                   help="how an answer is judged: " + "; ".join(f"{n}: {c.description}" for n, c in CHECKERS.items())
                        + " (default: choice when every question has choices, else match)")
    g = p.add_argument_group("sampling")
    g.add_argument("--k", type=int, default=default(S, "k"), help="answers sampled per question (default %(default)s)")
    g.add_argument("--seed", type=int, default=default(S, "seed"), help="seed of the sample of questions and of "
                                                                         "the sampling (default %(default)s)")
    g.add_argument("--max-new-tokens", type=int, default=default(S, "max_new_tokens"),
                   help="longest answer in tokens; each stops at its first newline (default %(default)s)")
    g.add_argument("--temperature", type=finite_float, default=default(S, "temperature"),
                   help="sampling temperature (default %(default)s)")
    g.add_argument("--top-p", type=finite_float, default=default(S, "top_p"),
                   help="nucleus sampling mass (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=default(S, "batch_size"),
                   help="questions per generate call (default %(default)s)")
    _model_args(p)
    p.set_defaults(func=cmd_mine, check=_sampling)


def _sampling(a) -> SamplingConfig:
    return flag_errors(lambda: SamplingConfig(a.k, a.seed, a.max_new_tokens, a.temperature, a.top_p, a.batch_size),
                       FLAGS)


def _items(a) -> list:
    """The questions to mine, read and sampled (no model yet)."""
    from likra.data.negatives import sample
    from likra.mining.mine import benchmark_items, load_mine_input

    if a.n is not None and a.n < 1:
        raise ConfigError(f"--n: must be >= 1, got {a.n}")
    items = load_mine_input(a.input) if a.input else benchmark_items(a.benchmark, a.split, a.data_root)
    return sample(items, a.n, a.seed)


def cmd_mine(a) -> int:
    from likra.mining.mine import check_items, default_checker, get_checker, journal_path, mine, write_mined

    cfg = _sampling(a)
    if Path(a.out).suffix.lower() not in (".jsonl", ".ndjson"):
        raise ConfigError(f"--out: the mined file is JSONL; name it *.jsonl, got {a.out!r}")
    items = _items(a)
    checker = get_checker(a.checker or default_checker(items))
    check_items(items, checker)
    from likra.models.loading import load_model  # torch: only once the input is known good

    loaded = load_model(a.model or default(ModelConfig, "spec"), a.device or "auto", a.dtype or "auto", a.cache_dir)
    result = mine(loaded, items, checker, cfg, progress=not a.quiet, journal=journal_path(a.out))
    report_file = write_mined(result, a.out)
    r = result.report
    print(f"mined {r.questions} questions with checker {r.checker!r}: {r.generations} distinct answers of {r.sampled} "
          f"sampled; {r.correct} correct, {r.wrong} wrong, {r.unjudged} unjudged; {r.with_negatives} questions with "
          f"at least one negative")
    print(f"negatives: {a.out}  report: {report_file}")
    if not result.rows:
        print("no wrong answers were found: nothing to train on (try a larger --k or --temperature)")
    return 0
