#!/usr/bin/env python3
"""Head training: likra's HeadTrainer against the authors' recipe (HF Trainer + PEFT), on one machine.

Both sides train the pos head then the neg head on the same model, the same token ids, in the same
example order, from the same initial LoRA weights, with the same hyper-parameters (LoRA r=8 alpha=8
dropout 0 on gate/up/down_proj; AdamW lr 1e-4 constant, weight decay 0; grad clip 1.0; one epoch).

Sides, each run in its own subprocess (so its peak memory is its own):
  baseline     transformers.Trainer on a PEFT model: padded batches of --batch-size, loss from the
               model's forward (full-vocabulary logits at every position), one Trainer run per head.
  likra        likra.training.trainer.HeadTrainer with TrainConfig(curve=False): fixed batches of --batch-size,
               so its per-step losses must equal the baseline's (same math, within float noise).
  likra-curve  HeadTrainer with the default TrainConfig (curve=True): batches never cross a power of
               two of examples (1, 1, 2, 4, 8, ...), checkpoints at each; what `likra train` runs.

Measured: wall time of training both heads (model loading excluded; tokenization and likra's own
checkpoint saving included), real tokens/s (prompt + answer, no padding) and answer tokens/s, token
positions fed to the model (padding included), peak memory (getrusage of the process; the peak
above the resident size at the start of training = "train peak" in the table; on CUDA, the
max_memory_allocated of training instead), per-step losses. Timings are only as quiet as the machine:
the 1-min load average is recorded per side and a warning printed when something else was running.

  python benchmarks/bench_training.py                          # smollm2-135m, 128 questions
  python benchmarks/bench_training.py --model gemma3-270m --n-train 64
  python benchmarks/bench_training.py --tiny --n-train 16      # tiny random llama, for CI (< 60 s)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import _train_baseline as tb  # noqa: E402

HEADS = ("pos", "neg")
SIDES = ("baseline", "likra", "likra-curve")
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- one side, in a subprocess


def run_side(side: str, job: dict) -> dict:
    import gc

    import torch

    from likra.data.negatives import TrainingPair
    from likra.models.loading import load_model
    from likra.ops.tokenize import encode_pair
    from likra.training.trainer import example_order

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    lm = load_model(job["model"], job["device"], job["dtype"])
    tok, prefix, seed, bs = lm.tokenizer, lm.prefix_token_ids, job["seed"], job["batch_size"]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    pairs = {h: [TrainingPair(p["context"], p["answer"], h == "pos", "positive" if h == "pos" else "negative", str(i))
                 for i, p in enumerate(job["pairs"][h])] for h in HEADS}
    encoded = {h: [encode_pair(tok, prefix, p.context, p.answer) for p in pairs[h]] for h in HEADS}
    if side == "baseline":
        model = tb.attach_baseline_adapters(lm.model, HEADS, seed)
    else:
        from likra.models.heads import LoraSettings, attach_heads

        model = attach_heads(lm.model, LoraSettings(), names=HEADS, seed=seed)
    digests = {h: tb.adapter_digest(model, h) for h in HEADS}
    save_time = _time_likra_saves() if side != "baseline" else [0.0]
    counter = tb.PositionCounter(model)
    cuda = model.device.type == "cuda"
    out_dir = tempfile.mkdtemp(prefix=f"bench-{side}-")
    gc.collect()
    hwm_reset = tb.reset_peak_rss()
    rss_start = tb.rss_mb()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    losses, head_seconds = {}, {}
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cpu_start, start = time.process_time(), time.perf_counter()
    for head in HEADS:
        t = time.perf_counter()
        if side == "baseline":
            order = example_order(len(pairs[head]), 1, seed)
            examples = [encode_pair(tok, prefix, pairs[head][i].context, pairs[head][i].answer) for i in order]
            losses[head] = tb.train_baseline_head(model, head, examples, pad_id, f"{out_dir}/{head}", bs, seed=seed)
        else:
            from likra.training.trainer import HeadTrainer, TrainConfig

            cfg = TrainConfig(batch_size=bs, seed=seed, curve=side == "likra-curve")
            result = HeadTrainer(model, tok, prefix, head, f"{out_dir}/{head}", cfg, progress=False).train(pairs[head])
            losses[head] = [(step, loss) for step, _, loss in result.losses]
        if cuda:
            torch.cuda.synchronize()
        head_seconds[head] = time.perf_counter() - t
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    counter.remove()
    shutil.rmtree(out_dir, ignore_errors=True)
    real = sum(len(c) + len(a) for h in HEADS for c, a in encoded[h])
    answer = sum(len(a) for h in HEADS for _, a in encoded[h])
    peak_above_start = tb.hwm_mb() - rss_start if hwm_reset and rss_start is not None else None
    return {
        "side": side, "seconds": seconds, "cpu_seconds": cpu_seconds, "head_seconds": head_seconds,
        "loadavg_1min": [load_start, os.getloadavg()[0] if load_start is not None else None],
        "examples": sum(map(len, encoded.values())),
        "real_tokens": real, "answer_tokens": answer, "positions": counter.positions, "forwards": counter.forwards,
        "tokens_per_s": real / seconds, "answer_tokens_per_s": answer / seconds,
        "peak_rss_mb": tb.maxrss_mb(), "rss_at_start_mb": rss_start, "train_peak_above_start_mb": peak_above_start,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "likra_save_seconds": save_time[0], "init_adapter_digest": digests, "losses": losses,
        "steps": {h: len(losses[h]) for h in HEADS}, "device": str(model.device), "threads": torch.get_num_threads(),
        "model_identity": lm.identity,
    }


def _time_likra_saves() -> list[float]:
    """Accumulate the time likra's trainer spends writing checkpoints and resume states."""
    import likra.training.trainer as lt

    total = [0.0]

    def timed(fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                total[0] += time.perf_counter() - t
        return wrapper

    if hasattr(lt, "save_head"):
        lt.save_head = timed(lt.save_head)
    if hasattr(lt.HeadTrainer, "_save_state"):
        lt.HeadTrainer._save_state = timed(lt.HeadTrainer._save_state)
    return total


# ---------------------------------------------------------------- the driver


def load_pairs(args, tmp: Path) -> tuple[str, dict, dict]:
    """(model spec, {head: [{context, answer}]}, data description)."""
    if args.tiny:
        spec = tb.save_tiny_model(tmp / "tiny-model")
        pos, neg = tb.tiny_pairs(args.n_train, args.seed)
        return spec, {"pos": pos, "neg": neg}, {"source": "synthetic (--tiny)", "n": args.n_train}
    from likra.config import DataConfig
    from likra.pipeline import build_training_data

    data = build_training_data(DataConfig(n_train=args.n_train, seed=args.seed))
    pairs = {h: [{"context": p.context, "answer": p.answer} for p in ps]
             for h, ps in (("pos", data.positives), ("neg", data.negatives))}
    return args.model, pairs, data.summary


def spawn(side: str, job_path: Path, tmp: Path, run: int) -> dict:
    result_path = tmp / f"result-{side}-{run}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--job", str(job_path),
           "--result", str(result_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"side {side} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
                           f"\n{proc.stderr[-6000:]}")
    return json.loads(result_path.read_text())


def loss_difference(a: dict, b: dict) -> dict:
    """Step-by-step |loss_a - loss_b| over both heads (same step numbers only)."""
    diffs, unmatched = [], 0
    for h in HEADS:
        la, lb = dict(map(tuple, a["losses"][h])), dict(map(tuple, b["losses"][h]))
        unmatched += len(set(la) ^ set(lb))
        diffs += [abs(la[s] - lb[s]) for s in sorted(set(la) & set(lb))]
    return {"max_abs": max(diffs) if diffs else None, "mean_abs": statistics.fmean(diffs) if diffs else None,
            "steps_compared": len(diffs), "steps_unmatched": unmatched}


def summarise(runs: dict[str, list[dict]]) -> dict:
    sides = {s: sorted(rs, key=lambda r: r["seconds"])[(len(rs) - 1) // 2] for s, rs in runs.items()}  # median run
    for s, rs in runs.items():
        sides[s]["all_seconds"] = [r["seconds"] for r in rs]
    base = sides["baseline"]
    comparisons = {}
    for s in sides:
        if s == "baseline":
            continue
        r = sides[s]
        c = {"tokens_per_s_ratio": r["tokens_per_s"] / base["tokens_per_s"],
             "peak_rss_ratio": r["peak_rss_mb"] / base["peak_rss_mb"],
             "same_tokens": r["real_tokens"] == base["real_tokens"] and r["answer_tokens"] == base["answer_tokens"],
             "same_init": r["init_adapter_digest"] == base["init_adapter_digest"]}
        if r["train_peak_above_start_mb"] and base["train_peak_above_start_mb"]:
            c["train_peak_ratio"] = r["train_peak_above_start_mb"] / base["train_peak_above_start_mb"]
        if r["cuda_peak_mb"] and base["cuda_peak_mb"]:
            c["cuda_peak_ratio"] = r["cuda_peak_mb"] / base["cuda_peak_mb"]
        if r["steps"] == base["steps"]:
            c["loss_curve"] = loss_difference(r, base)
        comparisons[s] = c
    return {"sides": sides, "comparisons": comparisons}


def _f(x, fmt="{:.1f}"):
    return "-" if x is None else fmt.format(x)


def markdown(summary: dict) -> str:
    rows = ["| side | steps | time s | tokens/s | answer tok/s | positions (pad %) | peak RSS MB | train peak MB "
            "| tokens/s vs baseline | peak RSS vs baseline | loss diff max / mean |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in summary["sides"].items():
        c = summary["comparisons"].get(s, {})
        lc = c.get("loss_curve")
        pad = 100 * (1 - r["real_tokens"] / r["positions"]) if r["positions"] else None
        peak = r["cuda_peak_mb"] if r["cuda_peak_mb"] is not None else r["train_peak_above_start_mb"]
        rows.append(
            f"| {s} | {sum(r['steps'].values())} | {r['seconds']:.2f} | {r['tokens_per_s']:.0f} "
            f"| {r['answer_tokens_per_s']:.0f} | {r['positions']} ({_f(pad)}) | {r['peak_rss_mb']:.0f} "
            f"| {_f(peak, '{:.0f}')} "
            f"| {_f(c.get('tokens_per_s_ratio'), '{:.2f}x')} | {_f(c.get('peak_rss_ratio'), '{:.2f}x')} "
            f"| {_f(lc and lc['max_abs'], '{:.1e}')} / {_f(lc and lc['mean_abs'], '{:.1e}')} |")
    return "\n".join(rows)


def environment() -> dict:
    import hashlib
    import importlib.metadata as md

    import torch

    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    versions = {}
    for pkg in ("likra", "torch", "transformers", "peft", "accelerate", "tokenizers"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    train_py = REPO / "src/likra/training/trainer.py"
    return {
        "python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "versions": versions,
        "git_commit": git("rev-parse", "HEAD"), "git_dirty": git("status", "--porcelain", "src/likra"),
        "train_py_sha256": hashlib.sha256(train_py.read_bytes()).hexdigest()[:16] if train_py.exists() else None,
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m",
                   help="model spec for likra.models.loading.load_model (default: %(default)s)")
    p.add_argument("--n-train", type=int, default=128,
                   help="training questions = pairs per head (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=8, help="examples per optimiser step (default: %(default)s)")
    p.add_argument("--tiny", action="store_true", help="tiny random llama + tiny tokenizer built here and synthetic "
                   "pairs (no model package, no data; for CI)")
    p.add_argument("--out", help="JSON results path (default: bench_training-<model>.json in the current folder)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per side, interleaved; the (lower) median-time run is reported (default: %(default)s)")
    p.add_argument("--sides", default=",".join(SIDES),
                   help="comma-separated subset of %(default)s (baseline is required)")
    p.add_argument("--device", default="auto", help="torch device (default: auto = cuda if available)")
    p.add_argument("--dtype", default="auto", help="model dtype (default: auto = float32 on CPU, bfloat16 on CUDA)")
    p.add_argument("--threads", type=int, default=0, help="torch threads per side (default: torch's own choice)")
    p.add_argument("--seed", type=int, default=0, help="data sampling, example order and adapter init seed")
    p.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # internal: run one side
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.side:  # a worker subprocess
        result = run_side(args.side, json.loads(Path(args.job).read_text()))
        Path(args.result).write_text(json.dumps(result))
        return 0
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if "baseline" not in sides or not set(sides) <= set(SIDES):
        raise SystemExit(f"--sides must include baseline and be a subset of {','.join(SIDES)}")
    name = "tiny" if args.tiny else Path(args.model).name
    out = Path(args.out or f"bench_training-{name}.json")
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        tmp = Path(tmp)
        spec, pairs, data_info = load_pairs(args, tmp)
        job = {"model": spec, "device": args.device, "dtype": args.dtype, "threads": args.threads, "seed": args.seed,
               "batch_size": args.batch_size, "pairs": pairs}
        job_path = tmp / "job.json"
        job_path.write_text(json.dumps(job))
        runs = {s: [] for s in sides}
        for i in range(args.repeats):
            for s in sides:
                print(f"[{time.time() - began:5.0f}s] run {i + 1}/{args.repeats}: {s} ...", file=sys.stderr, flush=True)
                runs[s].append(spawn(s, job_path, tmp, i))
    summary = summarise(runs)
    table = markdown(summary)
    record = {
        "command": shlex.join([sys.executable, *sys.argv]), "cwd": os.getcwd(),
        "settings": {**{k: v for k, v in vars(args).items() if k not in ("side", "job", "result")},
                     "model": "tiny random llama" if args.tiny else args.model, "lora": "r=8 alpha=8 dropout=0 "
                     "gate/up/down_proj", "optimizer": "AdamW lr 1e-4 constant, wd 0, clip 1.0, 1 epoch"},
        "data": data_info, "machine": environment(), "results": summary, "table": table,
        "total_seconds": time.time() - began,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(table)
    for s, c in summary["comparisons"].items():
        lc = c.get("loss_curve")
        print(f"{s}: {c['tokens_per_s_ratio']:.2f}x baseline tokens/s; same tokens {c['same_tokens']}, "
              f"same initial adapters {c['same_init']}"
              + (f"; loss curve max |diff| {lc['max_abs']:.2e} over {lc['steps_compared']} steps" if lc else
                 "; loss curve not compared (other batch schedule)"))
    busy = [f"{s} {max(r['loadavg_1min']):.1f}" for s, r in summary["sides"].items()
            if r["loadavg_1min"][0] is not None and max(r["loadavg_1min"]) > 1.5 * r["threads"]]
    if busy:
        print(f"warning: the machine was busy (1-min load average: {', '.join(busy)} "
              f"for {summary['sides']['baseline']['threads']}"
              " threads): timings are noisy; rerun with --repeats when it is quiet")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
