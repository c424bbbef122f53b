"""The whole ARC learning-curve job, timed: both heads trained on every ARC training question, then all
ARC-Challenge test questions scored under base, pos and neg at each checkpoint (0, 8, 16, ..., 4096, end).

This is the job issue 5 targets on the H100 (SmolLM2-135M: under 40 s excluding model loading). It
reports wall time per phase, tokens processed, and the arithmetic rate counting 2 x params FLOPs per
scored token and 6 x params per trained token (forward + backward; an upper bound with frozen weights).

    python benchmarks/bench_curve.py --model smollm2-135m --out curve.json          # the real job
    python benchmarks/bench_curve.py --tiny --out /tmp/curve.json                   # CI: seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _flops import needed_tokens, param_count, tflops  # noqa: E402

CHECKPOINTS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def tiny_model_dir(folder: Path) -> str:
    """A tiny random llama + tokenizer saved as a transformers folder (as the tests build them)."""
    from likra.testing import save_tiny_model

    return str(save_tiny_model(folder))


def run(model_spec: str, n_train: int | None, n_test: int | None, out_dir: Path, batch_tokens: int | None, lr: float,
        batch_size: int = 8, device: str = "auto") -> dict:
    import torch

    from likra.config import DataConfig, EvalConfig
    from likra.evaluate import eval_questions, score_run
    from likra.models.heads import attach_heads
    from likra.models.likra_model import LikraModel
    from likra.models.loading import load_model
    from likra.pipeline import build_training_data
    from likra.training.trainer import HeadTrainer, TrainConfig

    t0 = time.perf_counter()
    loaded = load_model(model_spec, device=device)
    load_s = time.perf_counter() - t0
    n_params = param_count(loaded.model)
    data = build_training_data(DataConfig(n_train=n_train))
    questions = eval_questions(EvalConfig(limit=n_test))
    model = attach_heads(loaded.model)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

    t1 = time.perf_counter()
    train_tokens = 0
    for head, pairs in (("pos", data.positives), ("neg", data.negatives)):
        trainer = HeadTrainer(model, loaded.tokenizer, loaded.prefix_token_ids, head, out_dir / head,
                              TrainConfig(lr=lr, batch_size=batch_size), base_identity=loaded.identity, progress=False)
        trainer.train(pairs, resume=False)
        train_tokens += sum(len(loaded.tokenizer(p.context + p.answer)["input_ids"]) for p in pairs)
    sync()
    train_s = time.perf_counter() - t1

    total = len(data.positives)
    checkpoints = [c for c in CHECKPOINTS if c < total] + [total]
    likra = LikraModel(loaded, model, out_dir, ("pos", "neg"))
    t2 = time.perf_counter()
    table = score_run(likra, questions, checkpoints, likra.engine(batch_tokens=batch_tokens, progress=False))
    sync()
    score_s = time.perf_counter() - t2
    score_tokens = needed_tokens(loaded, questions) * (1 + 2 * len(checkpoints))
    return {
        "model": model_spec, "n_params": n_params, "device": str(loaded.model.device),
        "train_questions": total, "batch_size": batch_size, "test_questions": len(questions),
        "checkpoints": checkpoints,
        "load_s": round(load_s, 2), "train_s": round(train_s, 2), "score_s": round(score_s, 2),
        "job_s_excluding_load": round(train_s + score_s, 2),
        "train_tokens": train_tokens, "score_tokens": score_tokens,
        "train_tflops": tflops(n_params, train_tokens, train_s, flops_per_param=6),
        "score_tflops": tflops(n_params, score_tokens, score_s),
        "rows": len(table),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m", help="likra model spec (default smollm2-135m)")
    p.add_argument("--n-train", type=int, default=None, help="training questions (default: all, 6604)")
    p.add_argument("--n-test", type=int, default=None, help="ARC-Challenge test questions (default: all 1172)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=8,
                   help="training examples per step (default 8, the paper's; the authors' code used 32)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cuda or cpu")
    p.add_argument("--batch-tokens", type=int, default=None,
                   help="padded tokens per scoring forward pass (default: the engine's for the device)")
    p.add_argument("--tiny", action="store_true", help="tiny random model, 40 train / 10 test questions (CI)")
    p.add_argument("--out", help="write the result JSON here")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        spec = tiny_model_dir(Path(tmp) / "tiny") if a.tiny else a.model
        n_train, n_test = (40, 10) if a.tiny else (a.n_train, a.n_test)
        result = run(spec, n_train, n_test, Path(tmp) / "run", a.batch_tokens, a.lr, a.batch_size, a.device)
    if a.tiny:
        result["model"] = "tiny-random-llama"
    from likra.io_utils import atomic_write_json, library_versions

    result.update({"command": " ".join(sys.argv), "versions": library_versions()})
    print(json.dumps(result, indent=2))
    if a.out:
        atomic_write_json(a.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
