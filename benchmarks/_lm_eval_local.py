"""The lm-evaluation-harness side of the scoring benchmark: local task files and timed runs.

The task YAMLs are lm-eval's own arc_challenge / hellaswag / winogrande with the dataset swapped for
the local JSONL files. They ship with likra (src/likra/integrations/tasks/, written out by
`likra.integrations.local_tasks.write_local_tasks`); `write_tasks` here is that function:

    python benchmarks/_lm_eval_local.py write-tasks /tmp/likra_tasks
    lm_eval --model hf --model_args pretrained=<folder> --include_path /tmp/likra_tasks \\
            --tasks local_arc_challenge --num_fewshot 25
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from _scoring_meter import Meter

# the task templates ship with the package; these names are the ones the benchmark has always used
from likra.integrations.local_tasks import TASKS, task_manager  # noqa: F401 (used by bench_scoring)
from likra.integrations.local_tasks import write_local_tasks as write_tasks


def make_hflm(pretrained: str, peft: str | None, batch_size: int | str, device: str = "cpu", dtype: str = "float32"):
    """lm-eval's HF model, loaded the way `--model hf --model_args pretrained=...,peft=...` loads it."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=pretrained, peft=peft, batch_size=batch_size, device=device, dtype=dtype)


@dataclass
class LmEvalRun:
    """One `simple_evaluate` of one task with one model (base, or base + one adapter)."""

    task: str
    """The lm-eval task name."""
    seconds: float
    """Wall time of the whole simple_evaluate call (task building, requests, metrics)."""
    loglik_seconds: float
    """Time spent inside lm.loglikelihood: tokenization + forward passes + log-softmax."""
    loglik_cpu_seconds: float
    """Process CPU time (all threads) inside lm.loglikelihood: less sensitive to other load."""
    others_cpu_share: float | None
    """Other processes' CPU use during the loglikelihood calls, as a share of all CPUs."""
    metrics: dict
    """lm-eval's aggregated metrics, e.g. {'acc': 0.3, 'acc_norm': 0.35}."""
    samples: list[dict] = field(repr=False)
    """Logged samples (log_samples=True), sorted by doc_id."""


def run_task(lm, task: str, num_fewshot: int, limit: int, tm, fewshot_seed: int = 1234) -> LmEvalRun:
    """Evaluate `task` on its first `limit` documents, as `lm_eval --limit` does, timing the calls."""
    from lm_eval import simple_evaluate

    meter = Meter()
    original = lm.loglikelihood

    def timed(requests, *args, **kwargs):
        with meter.section():
            return original(requests, *args, **kwargs)

    lm.loglikelihood = timed  # instance attribute: shadows the method for this run only
    start = time.perf_counter()
    try:
        out = simple_evaluate(model=lm, tasks=[task], num_fewshot=num_fewshot, limit=limit, log_samples=True,
                              task_manager=tm, fewshot_random_seed=fewshot_seed)
    finally:
        del lm.loglikelihood
    seconds = time.perf_counter() - start
    metrics = {k.split(",")[0]: v for k, v in out["results"][task].items()
               if k.endswith(",none") and "stderr" not in k}
    samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    return LmEvalRun(task, seconds, meter.seconds, meter.cpu_seconds, meter.others_cpu_share, metrics, samples)


def warm_datasets(tm, tasks: list[str]) -> None:
    """Load each task once so its JSON files are converted to the datasets cache before any timing
    (a one-off cost for a user too; timing it would charge lm-eval for a cache build)."""
    tm.load(tasks)


def prefix_tokens(lm) -> list[int]:
    """Tokens lm-eval's HFLM puts before every context: what tok_encode adds beyond the raw tokenizer."""
    probe = "Question: probe"
    with_special = lm.tok_encode(probe)
    raw = lm.tokenizer(probe, add_special_tokens=False)["input_ids"]
    return with_special[: len(with_special) - len(raw)] if with_special[-len(raw):] == raw else with_special


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the local lm-eval task YAMLs (data root filled in).")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write-tasks", help="write the YAMLs + utils.py into OUT_DIR")
    w.add_argument("out_dir")
    w.add_argument("--data", default=None, help="data root (default: likra's: $LIKRA_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    from likra import paths

    out = write_tasks(args.out_dir, paths.data_root(args.data))
    print(f"wrote {', '.join(sorted(TASKS.values()))} to {out}; use: lm_eval --include_path {out} --tasks ...")


if __name__ == "__main__":
    main()
