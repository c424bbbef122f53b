"""A training run from config to saved heads: data -> pairs -> heads -> run.json.

This is the function `likra train` calls; a Python user calls it the same way.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from likra.config import DataConfig, TrainRunConfig
from likra.data.benchmarks import QuestionSet, load_questions, load_user_file
from likra.data.negatives import TrainingPair, exclude_leaks, negative_pairs, positive_pairs, sample
from likra.data.questions import Question
from likra.io_utils import atomic_write_json, library_versions

RUN_FILE = "run.json"


@dataclass
class TrainingData:
    questions: list[Question]
    """Training questions after leak removal and sampling."""
    positives: list[TrainingPair]
    """(context, gold answer) pairs."""
    negatives: list[TrainingPair]
    """(context, wrong answer) pairs of the configured kind."""
    summary: dict
    """What was loaded, excluded and skipped: written to run.json and printed."""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_train_set(cfg: DataConfig) -> QuestionSet:
    if cfg.user_file:
        return load_user_file(cfg.user_file, lenient=cfg.lenient)
    return load_questions(cfg.benchmark, cfg.train_split, data_root=cfg.data_root, lenient=cfg.lenient)


def build_training_data(cfg: DataConfig, choice_scores: dict | None = None) -> TrainingData:
    """Load, remove evaluation questions, sample, and build balanced positive/negative pairs."""
    train_set = _load_train_set(cfg)
    eval_set = load_questions(cfg.eval_benchmark, cfg.eval_split, data_root=cfg.data_root, lenient=cfg.lenient)
    kept, leaks = exclude_leaks(list(train_set.questions), list(eval_set.questions))
    chosen = sample(kept, cfg.n_train, cfg.seed) if cfg.n_train else kept
    unrelated = None
    if cfg.negative_kind == "unrelated":
        unrelated = list(load_questions(cfg.unrelated_benchmark, "all", data_root=cfg.data_root, lenient=cfg.lenient).questions)
    negatives = negative_pairs(chosen, cfg.negative_kind, cfg.seed, strategy=cfg.negative_strategy,
                               choice_scores=choice_scores, unrelated_pool=unrelated)
    summary = {
        "train_source": [str(s) for s in train_set.source], "loaded": len(train_set.questions),
        "skipped_rows": str(train_set.skipped) if train_set.skipped else "none",
        "eval_source": [str(s) for s in eval_set.source], "eval_questions": len(eval_set.questions),
        "excluded_as_leaks": str(leaks), "after_leak_check": len(kept), "used": len(chosen),
        "negative_kind": cfg.negative_kind, "negative_strategy": cfg.negative_strategy,
    }
    return TrainingData(chosen, positive_pairs(chosen), negatives, summary)


def base_choice_scores(loaded, questions: list[Question], batch_tokens: int | None = None) -> dict[str, list[float]]:
    """Per-character base-model scores of every choice: what 'hardest'/'easiest' near-misses rank by."""
    from likra.scoring.engine import EngineConfig, ScoringEngine
    from likra.scoring.rules import choice_scores

    table = ScoringEngine(loaded.model, loaded.tokenizer, loaded.prefix_token_ids,
                          EngineConfig(batch_tokens=batch_tokens)).score(questions, ("base",))
    return {qid: scores for (_, qid), (scores, _) in choice_scores(table, "base", norm="char").items()}


def train_run(cfg: TrainRunConfig, out_dir: str | Path, resume: bool = True, progress: bool = True) -> dict:
    """Train the configured heads and write run.json (config, data summary, losses, versions)."""
    import torch

    from likra.heads import attach_heads
    from likra.models import load_model
    from likra.train import HeadTrainer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    loaded = load_model(cfg.model.spec, cfg.model.device, cfg.model.dtype, cfg.model.cache_dir)
    _log(f"model: {loaded.identity.get('spec')} ({loaded.identity.get('n_params', 0) / 1e6:.0f}M params) "
         f"on {loaded.identity.get('device')} in {time.time() - t0:.0f}s")
    scores = None
    if cfg.data.negative_kind == "near-miss" and cfg.data.negative_strategy != "random":
        candidates = build_training_data(DataConfig(**{**asdict(cfg.data), "negative_strategy": "random"}))
        scores = base_choice_scores(loaded, candidates.questions)
    data = build_training_data(cfg.data, scores)
    _log(f"data: {data.summary['used']} training questions; leaks removed: {data.summary['excluded_as_leaks']}")
    torch.manual_seed(cfg.train.seed)
    model = attach_heads(loaded.model, cfg.lora, names=("pos", "neg"), seed=cfg.train.seed)
    pairs = {"pos": data.positives, "neg": data.negatives}
    record = {"config": asdict(cfg), "base_model": loaded.identity, "data": data.summary,
              "versions": library_versions(), "heads": {}}
    for head in cfg.heads:
        trainer = HeadTrainer(model, loaded.tokenizer, loaded.prefix_token_ids, head, out_dir / head, cfg.train,
                              base_identity=loaded.identity, data_info=data.summary, progress=progress)
        t = time.time()
        result = trainer.train(pairs[head], resume=resume)
        record["heads"][head] = {**asdict(result), "seconds": round(time.time() - t, 1)}
        atomic_write_json(out_dir / RUN_FILE, record)
    record["seconds"] = round(time.time() - t0, 1)
    atomic_write_json(out_dir / RUN_FILE, record)
    return record
