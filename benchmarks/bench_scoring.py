"""Benchmark: likra's three-head scoring vs lm-evaluation-harness doing the same job, with parity checks.

The job: score N documents of a multiple-choice task under the base model and under two LoRA heads
(pos, neg). With lm-eval that is three runs (base; base + pos adapter; base + neg adapter) of its
own task. With likra it is one ScoringEngine.score(questions, ("base", "pos", "neg")) call.
Both sides get the same documents (the first N, like `lm_eval --limit N`), the same float32 weights
and the same CPU threads; each builds its own prompts (likra's few-shot code follows lm-eval's
sampler, seed 1234; the report shows where the texts differ). Model loading is excluded from both
timings (all models are loaded before the clock starts).

Reported per task setting: questions/s of each side and their ratio, base-model acc and acc_norm on
both sides (lm-eval's aggregate vs likra's decision rules), the documents whose chosen answer
differs, the largest per-request |log-likelihood difference|, and whether the request texts
(context, continuation) are identical; the same for the pos and neg heads. Where the texts differ,
likra also scores lm-eval's exact texts (untimed), which separates prompt building from scoring.

Examples:
    python benchmarks/bench_scoring.py --tiny --limit 3          # CI smoke run, < 1 minute
    python benchmarks/bench_scoring.py --out results.json        # SmolLM2-135M, default CPU subsets
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# No hub access anywhere: the model is local and the tasks read local JSON files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside this file

import _scoring_report  # noqa: E402


@dataclass(frozen=True)
class Setting:
    benchmark: str
    """likra benchmark name (also picks the local lm-eval task)."""
    shots: int
    """Few-shot examples per prompt."""
    limit: int
    """Default number of documents (first N) when --limit is not given: sized for a 2-core CPU."""


SETTINGS = {
    "arc_challenge_0shot": Setting("arc_challenge", 0, 100),
    "arc_challenge_25shot": Setting("arc_challenge", 25, 20),
    "hellaswag_10shot": Setting("hellaswag", 10, 12),
    "winogrande_5shot": Setting("winogrande", 5, 60),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m", help="any likra model spec: a named model, a folder or a "
                   ".gguf file (default: smollm2-135m). lm-eval loads the converted folder likra loads.")
    p.add_argument("--tasks", default=",".join(SETTINGS),
                   help=f"comma-separated task settings (default: all): {', '.join(SETTINGS)}")
    p.add_argument("--limit", type=int, default=None, help="first N documents of every setting (like lm_eval "
                   "--limit); default per setting: " + ", ".join(f"{k}={s.limit}" for k, s in SETTINGS.items()))
    p.add_argument("--tiny", action="store_true", help="use a tiny random llama + tokenizer built in-process "
                   "(for CI; ignores --model)")
    p.add_argument("--out", default=None, help="write the results JSON here")
    p.add_argument("--lm-eval-batch-size", default="8", help="lm-eval HFLM batch size (default 8: what a CPU "
                   "user would pick; 'auto' probes by trying to run out of memory, meant for GPUs)")
    p.add_argument("--likra-repeats", type=int, choices=(1, 2, 3), default=3, help="likra's call runs after each "
                   "of the first R lm-eval runs and its time is the mean, so load changes on a shared machine hit "
                   "both sides alike (default 3)")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="likra EngineConfig.batch_tokens (default: the engine's for the device, 1024 on CPU)")
    p.add_argument("--lora-std", type=float, default=0.02, help="std of the random LoRA B weights of the heads")
    p.add_argument("--data", default=None, help="data root (default: $LIKRA_DATA or ../shared/data)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for both sides (default: torch's)")
    args = p.parse_args(argv)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in args.tasks if t not in SETTINGS]
    if unknown:
        p.error(f"unknown task setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    bs = args.lm_eval_batch_size
    args.lm_eval_batch_size = int(bs) if bs.isdigit() else bs
    return args


# The helper modules are imported inside functions so that --help answers without loading torch.


def load_sides(args, work: Path, data_root: Path):
    """Everything that is loaded once and excluded from timing: likra's model with both heads, and
    lm-eval's three HFLM objects (base, base+pos, base+neg)."""
    import _scoring_likra
    import _lm_eval_local
    from likra.models.loading import load_model

    start = time.perf_counter()
    spec = str(_tiny_folder(work, data_root)) if args.tiny else args.model
    loaded = load_model(spec, device="cpu", dtype="float32")
    model, folders = _scoring_likra.make_heads(loaded, work / "heads", std=args.lora_std)
    likra_load = time.perf_counter() - start
    # lm-eval reads the same plain transformers folder likra converted (or was given)
    pretrained = loaded.identity["path"]
    start = time.perf_counter()
    lms = {"base": _lm_eval_local.make_hflm(pretrained, None, args.lm_eval_batch_size)}
    for head, folder in folders.items():
        lms[head] = _lm_eval_local.make_hflm(pretrained, str(folder), args.lm_eval_batch_size)
    tm = _lm_eval_local.task_manager(_lm_eval_local.write_tasks(work / "tasks", data_root))
    _lm_eval_local.warm_datasets(tm, sorted({_lm_eval_local.TASKS[SETTINGS[t].benchmark] for t in args.tasks}))
    load = {"likra_seconds": round(likra_load, 2), "lm_eval_seconds": round(time.perf_counter() - start, 2)}
    return loaded, model, lms, tm, pretrained, load


def _tiny_folder(work: Path, data_root: Path) -> Path:
    import _scoring_tiny

    return _scoring_tiny.build_tiny_model(work / "tiny-model", data_root)


def run_setting(name: str, setting: Setting, limit: int, args, sides, data_root: Path) -> dict:
    """lm-eval's three runs and likra's call(s), then the timing and parity reports, for one setting."""
    import _scoring_likra

    loaded, model = sides[0], sides[1]
    start = time.perf_counter()
    questions = _scoring_likra.prepare_questions(setting.benchmark, setting.shots, limit, str(data_root))
    prepare = time.perf_counter() - start
    runs, repeats = _timed_runs(setting, limit, args, sides, questions)
    n = len(questions)
    if any(len(r.samples) != n for r in runs.values()):
        raise RuntimeError(f"{name}: lm-eval scored {[len(r.samples) for r in runs.values()]} docs, likra {n}")
    return {
        "load_average": os.getloadavg(),  # the machine's load at the end of this setting (shared CPUs)
        "benchmark": setting.benchmark, "shots": setting.shots, "n": n, "lm_eval_task": runs["base"].task,
        **_timing(args, n, prepare, runs, repeats),
        "parity": _parity(runs, repeats[0].table, questions, model, loaded, args.batch_tokens),
    }


def _timed_runs(setting: Setting, limit: int, args, sides, questions):
    """lm-eval: base, base+pos, base+neg. likra's one call runs after each of the first
    `likra_repeats` of them, so a change in the load of this shared machine during the setting hits
    both sides alike (its time is then the mean)."""
    import _lm_eval_local
    import _scoring_likra

    loaded, model, lms, tm = sides
    task = _lm_eval_local.TASKS[setting.benchmark]
    runs, repeats = {}, []
    for i, h in enumerate(_scoring_likra.HEADS):
        runs[h] = _lm_eval_local.run_task(lms[h], task, setting.shots, limit, tm)
        if i < args.likra_repeats:
            repeats.append(_scoring_likra.score(model, loaded, questions, args.batch_tokens))
    return runs, repeats


def _timing(args, n: int, prepare: float, runs: dict, repeats: list) -> dict:
    likra_s = sum(r.seconds for r in repeats) / len(repeats)
    likra_cpu = sum(r.cpu_seconds for r in repeats) / len(repeats)
    lm_loglik = sum(r.loglik_seconds for r in runs.values())
    lm_total = sum(r.seconds for r in runs.values())
    lm_cpu = sum(r.loglik_cpu_seconds for r in runs.values())
    return {
        "lm_eval": {"batch_size": args.lm_eval_batch_size, "loglik_seconds": lm_loglik, "loglik_cpu_seconds": lm_cpu,
                    "seconds": lm_total,
                    "runs": {h: {"seconds": r.seconds, "loglik_seconds": r.loglik_seconds,
                                 "loglik_cpu_seconds": r.loglik_cpu_seconds, "others_cpu_share": r.others_cpu_share,
                                 "metrics": r.metrics} for h, r in runs.items()}},
        "likra": {"batch_tokens": args.batch_tokens, "prepare_seconds": prepare, "score_seconds": likra_s,
                  "score_cpu_seconds": likra_cpu, "repeats": [r.seconds for r in repeats],
                  "repeats_others_cpu_share": [r.others_cpu_share for r in repeats],
                  "repeats_identical": all(_same_scores(repeats[0].table, r.table) for r in repeats[1:])},
        "throughput": {
            "likra_questions_per_s": n / likra_s, "lm_eval_questions_per_s": n / lm_loglik,
            "ratio": lm_loglik / likra_s,
            "ratio_cpu": lm_cpu / likra_cpu,
            "ratio_end_to_end": lm_total / (prepare + likra_s),
            # the most CPU other processes took during any timed run: above ~0.1 the ratio is suspect
            "max_others_cpu_share": _max_share([r.others_cpu_share for r in runs.values()]
                                               + [r.others_cpu_share for r in repeats]),
        },
    }


def _parity(runs: dict, table, questions, model, loaded, batch_tokens: int) -> dict:
    """Texts, log-likelihoods, choices and accuracies of every head; where the prompts differ, likra
    also scores lm-eval's exact strings (untimed), to tell prompt building from scoring."""
    import _scoring_likra as sl
    import _scoring_parity as sp

    with_norm = "acc_norm" in runs["base"].metrics
    texts = sp.text_parity(runs["base"].samples, questions)
    same_text = None
    if not texts["identical"]:
        rebuilt = sl.questions_from_requests(runs["base"].samples, questions)
        same_text = (rebuilt, sl.score(model, loaded, rebuilt, batch_tokens).table)
    heads = {}
    for h, run in runs.items():
        entry = {"lm_eval": {k: run.metrics[k] for k in ("acc", "acc_norm") if k in run.metrics},
                 "likra": _accuracies(table, h, with_norm)}
        entry.update(sp.head_parity(run.samples, questions, sl.logliks(table, questions, h),
                                    sl.greedy_flags(table, questions, h), with_norm))
        entry["likra_on_lm_eval_texts"] = entry["likra"]
        if same_text is not None:
            qs, other = same_text
            entry["likra_on_lm_eval_texts"] = _accuracies(other, h, with_norm)
            entry["on_lm_eval_texts"] = sp.head_parity(run.samples, qs, sl.logliks(other, qs, h),
                                                       sl.greedy_flags(other, qs, h), with_norm)
        heads[h] = entry
    return {"texts": texts, "heads": heads}


def _max_share(shares: list) -> float | None:
    known = [x for x in shares if x is not None]
    return max(known) if known else None


def _same_scores(a, b) -> bool:
    """Whether two score tables hold the same log-likelihoods (likra's scoring is deterministic)."""
    return ([(r.question_id, r.head, r.choice, r.logprob) for r in a]
            == [(r.question_id, r.head, r.choice, r.logprob) for r in b])


def _accuracies(table, head: str, with_norm: bool) -> dict:
    import _scoring_likra

    out = {"acc": _scoring_likra.head_accuracy(table, head, "none")}
    if with_norm:
        out["acc_norm"] = _scoring_likra.head_accuracy(table, head, "char")
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        sys.exit("bench_scoring needs lm-evaluation-harness: pip install lm_eval==0.4.13")
    import torch
    from likra import paths

    if args.threads:
        torch.set_num_threads(args.threads)
    data_root = paths.data_root(args.data)
    with tempfile.TemporaryDirectory(prefix="likra-bench-") as tmp:
        work = Path(tmp)
        loaded, model, lms, tm, pretrained, load = load_sides(args, work, data_root)
        import _lm_eval_local

        prefixes = {"likra": list(loaded.prefix_token_ids), "lm_eval": _lm_eval_local.prefix_tokens(lms["base"])}
        settings = {}
        for name in args.tasks:
            s = SETTINGS[name]
            print(f"[bench] {name}: {args.limit or s.limit} docs ...", file=sys.stderr, flush=True)
            settings[name] = run_setting(name, s, args.limit or s.limit, args, (loaded, model, lms, tm), data_root)
    result = {
        "command": "python " + " ".join(shlex.quote(a)
                                        for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "machine": _scoring_report.machine_info(torch), "versions": _scoring_report.versions(),
        "git": _scoring_report.git_state(Path(__file__).resolve().parents[1]),
        "model": {**loaded.identity, "spec": "tiny (built in-process)" if args.tiny else args.model},
        "config": {"lm_eval_batch_size": args.lm_eval_batch_size, "likra_batch_tokens": args.batch_tokens,
                   "lora_std": args.lora_std, "likra_repeats": args.likra_repeats, "fewshot_seed": 1234,
                   "dtype": "float32", "device": "cpu",
                   "limits": {n: args.limit or SETTINGS[n].limit for n in args.tasks},
                   "lm_eval_pretrained": pretrained},
        "prefix_tokens": prefixes, "load_seconds": load, "settings": settings,
    }
    if args.out:
        _scoring_report.write_json(args.out, result)
    print(_scoring_report.markdown(result))
    return result


if __name__ == "__main__":
    main()
