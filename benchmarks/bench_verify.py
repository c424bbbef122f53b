#!/usr/bin/env python3
"""`likra verify` throughput against `likra eval`'s on the same questions, side by side in one process.

Both paths score every answer choice of the same ARC-Challenge test questions under the base model and
both heads, with the same engine:
  eval     ScoringEngine.score(questions, heads): what `likra eval` runs per checkpoint
  verify   verifier.answers.verify_answers(likra, [(question, choices)]): what `likra verify --input`
           runs on a JSONL of those questions (one request per answer, grouped by question, plus the
           per-answer results: score, and probability when calibrated)
The issue's bar: verify within 10% of eval (time ratio <= 1.10). Rounds alternate the order; medians
are compared; the log-likelihoods of both paths are checked equal first (the same numbers, or the
timing compares different work). The 1-minute load average is recorded.

  python benchmarks/bench_verify.py --run runs/experiments/smollm2-arc-1024/seed-0 --questions 200
  python benchmarks/bench_verify.py --tiny --questions 8          # tiny random llama (the test suite)
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


def tiny_run(workdir: Path):
    """A tiny random llama with two heads trained a few steps (heads cost the same whatever they learned)."""
    import likra
    from likra.testing import build_model, build_tokenizer

    model_dir = workdir / "tiny"
    build_model("llama").save_pretrained(model_dir)
    build_tokenizer().save_pretrained(model_dir)
    likra.train(workdir / "run", model=str(model_dir), n_train=4, lr=1e-2, seed=0, progress=False)
    return likra.load(workdir / "run", model=str(model_dir)).model


def same_numbers(table, results, questions) -> float:
    """Max |Δ log-likelihood| between the eval table and verify's per-answer raw scores (rule base)."""
    base = {(r.question_id, r.choice): r.logprob for r in table if r.head == "base"}
    worst = 0.0
    for q, res in zip(questions, results):
        for i, cand in enumerate(res["answers"]):
            worst = max(worst, abs(cand["score"] - base[(q.id, i)]))
    return worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="training run with both heads (its base model is loaded)")
    p.add_argument("--tiny", action="store_true", help="a tiny random llama instead (for the test suite)")
    p.add_argument("--questions", type=int, default=200, help="ARC-Challenge test questions (default 200)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds of each path (default 3)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()
    if not args.tiny and not args.run:
        p.error("give --run (a run with both heads) or --tiny")

    from likra.data.benchmarks import load_questions
    from likra.io_utils import library_versions
    from likra.models.likra_model import load_likra
    from likra.verifier.answers import verify_answers

    questions = list(load_questions("arc_challenge", "test").questions)[: args.questions]
    items = [(q.query, list(q.choices)) for q in questions]
    answers = sum(len(q.choices) for q in questions)
    with tempfile.TemporaryDirectory() as tmp:
        likra = tiny_run(Path(tmp)) if args.tiny else load_likra(run_dir=args.run)
        heads = ("base", *likra.heads)
        engine = likra.engine(progress=False)
        paths = {"eval": lambda: engine.score(questions, heads),
                 "verify": lambda: verify_answers(likra, items, None, "base", 1.0, "none", progress=False)}
        out = {name: fn() for name, fn in paths.items()}  # warm-up, untimed; and the numbers compared
        delta = same_numbers(out["eval"], out["verify"], questions)
        if delta > 1e-3:
            raise SystemExit(f"the two paths disagree (max |Δ log-likelihood| {delta:.2e}): not the same work")
        load_before = os.getloadavg()[0]
        times: dict[str, list[float]] = {name: [] for name in paths}
        for r in range(args.rounds):
            for name in (list(paths) if r % 2 == 0 else list(paths)[::-1]):
                t0 = time.perf_counter()
                paths[name]()
                times[name].append(time.perf_counter() - t0)
        load_after = os.getloadavg()[0]
    med = {name: statistics.median(v) for name, v in times.items()}
    ratio = med["verify"] / med["eval"]
    print(f"{len(questions)} questions, {answers} answers, heads {','.join(heads)}; max |Δ loglik| {delta:.1e}")
    for name in paths:
        print(f"{name:<7} {med[name]:8.2f} s  {answers / med[name]:8.1f} answers/s   runs {times[name]}")
    print(f"verify / eval time: {ratio:.3f}  ({'within' if ratio <= 1.10 else 'NOT within'} the 10% bar)")
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after"
          + ("  -- NOT a quiet machine: ratios only" if load_before > 1.0 else "")
          + "  (the second figure includes this benchmark's own threads)")
    if args.out:
        record = {"command": " ".join(sys.argv), "model": "tiny-llama" if args.tiny else args.run,
                  "questions": len(questions), "answers": answers, "heads": list(heads), "max_abs_delta": delta,
                  "seconds": times, "median": med, "verify_over_eval": ratio,
                  "load_average": [load_before, load_after], "versions": library_versions()}
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
