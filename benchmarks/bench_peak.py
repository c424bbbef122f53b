"""Scoring arithmetic rate: how much of the device's dense peak likra's three-head scoring reaches.

The job: ARC-Challenge at 25 shots (lm-eval's few-shot draw), every question scored under the base
model and two LoRA heads (pos, neg; random nonzero weights, as in bench_scoring) in one
`ScoringEngine.score` call. The rate counts 2 x params FLOPs per token actually needed (each
question's shared prefix once per head plus each choice's remainder; see _flops.py) over the wall
time of the call, model loading and a warm-up call excluded. Issue 5's GPU target: >= 40% of the
H100's ~790 TFLOP/s dense bf16 peak on the 1.5B model.

Several --batch-tokens values are measured side by side in one run, so the best setting for a
device is found in one call:

    python benchmarks/bench_peak.py --model qwen2.5-coder-1.5b --limit 200 --batch-tokens 16384,32768,65536
    python benchmarks/bench_peak.py --model smollm2-135m --limit 20          # CPU: peak unknown, rate only
    python benchmarks/bench_peak.py --tiny --limit 4                          # CI smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _flops import needed_tokens, param_count, tflops  # noqa: E402

H100_BF16_DENSE_TFLOPS = 790.0


def measure(spec: str, device: str, dtype: str, limit: int, shots: int, batch_tokens: list[int], repeats: int,
            peak: float | None, workdir: Path, data_root: str | None) -> dict:
    import torch
    from _scoring_likra import HEADS, make_heads, prepare_questions

    from likra.models.loading import load_model
    from likra.scoring.engine import EngineConfig, ScoringEngine

    loaded = load_model(spec, device=device, dtype=dtype)
    n_params = param_count(loaded.model)
    questions = prepare_questions("arc_challenge", shots, limit, data_root=data_root)
    model, _ = make_heads(loaded, workdir)
    model.eval()
    tokens = needed_tokens(loaded, questions) * len(HEADS)
    sync = torch.cuda.synchronize if loaded.model.device.type == "cuda" else (lambda: None)
    runs = []
    for bt in batch_tokens:
        engine = ScoringEngine(model, loaded.tokenizer, loaded.prefix_token_ids,
                               EngineConfig(batch_tokens=bt, progress=False))
        engine.score(questions[: max(1, len(questions) // 10)], HEADS)  # warm-up: kernels, allocator, checks
        times = []
        for _ in range(repeats):
            sync()
            t = time.perf_counter()
            engine.score(questions, HEADS)
            sync()
            times.append(time.perf_counter() - t)
        best = min(times)
        rate = tflops(n_params, tokens, best)
        runs.append({"batch_tokens": bt, "seconds": [round(x, 4) for x in times], "best_s": round(best, 4),
                     "median_s": round(statistics.median(times), 4), "questions_per_s": len(questions) / best,
                     "tokens_per_s": tokens / best, "tflops": rate,
                     "fraction_of_peak": rate / peak if peak else None})
        print(f"[peak] batch_tokens={bt}: {best:.3f} s, {tokens / best:,.0f} tok/s, {rate:.2f} TFLOP/s"
              + (f", {100 * rate / peak:.1f}% of {peak:g}" if peak else ""), flush=True)
    memory = torch.cuda.max_memory_allocated() / 2**20 if loaded.model.device.type == "cuda" else None
    return {"model": spec, "device": str(loaded.model.device), "dtype": str(loaded.model.dtype),
            "n_params": n_params, "questions": len(questions), "shots": shots, "heads": list(HEADS),
            "needed_tokens": tokens, "peak_tflops": peak, "runs": runs,
            "best": max(runs, key=lambda r: r["tflops"]), "cuda_max_allocated_mb": memory}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-1.5b", help="likra model spec (default: qwen2.5-coder-1.5b)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cuda or cpu")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on cuda, float32 on cpu), bfloat16, float32")
    p.add_argument("--limit", type=int, default=100, help="first N ARC-Challenge test questions (default 100)")
    p.add_argument("--shots", type=int, default=25, help="few-shot examples per question (default 25)")
    p.add_argument("--batch-tokens", default="8192,16384,32768",
                   help="comma-separated EngineConfig.batch_tokens values to compare (default 8192,16384,32768)")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per setting; the best is reported")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help=f"device dense peak for the fraction (default: {H100_BF16_DENSE_TFLOPS:g} on CUDA "
                        "bf16, none on CPU)")
    p.add_argument("--data", default=None, help="data root (default: likra's, ../shared/data)")
    p.add_argument("--tiny", action="store_true", help="tiny random llama built in-process (CI)")
    p.add_argument("--out", help="write the result JSON here")
    a = p.parse_args(argv)
    import torch

    from likra.io_utils import atomic_write_json, library_versions
    from likra.paths import data_root

    peak = a.peak_tflops
    if peak is None and torch.cuda.is_available() and a.device in ("auto", "cuda") and a.dtype in ("auto", "bfloat16"):
        peak = H100_BF16_DENSE_TFLOPS
    sizes = [int(x) for x in a.batch_tokens.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        spec = a.model
        if a.tiny:
            from _scoring_tiny import build_tiny_model

            spec = str(build_tiny_model(Path(tmp) / "tiny", Path(a.data) if a.data else data_root()))
        result = measure(spec, a.device, a.dtype, a.limit, a.shots, sizes, a.repeats, peak, Path(tmp), a.data)
    if a.tiny:
        result["model"] = "tiny-random-llama"
    result.update({"command": " ".join(sys.argv), "versions": library_versions()})
    if torch.cuda.is_available():
        result["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(result["best"], indent=2))
    if a.out:
        atomic_write_json(a.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
