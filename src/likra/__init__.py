"""likra: learn from negative examples; score answers by L+ - w*L-.

The public API, imported lazily so `import likra` stays fast:
    load(run_or_hub_id)                 a run's heads on their base model: .score(q, answers), .evaluate(...)
    train(out, n_train=..., ...)        train the heads (what `likra train` does), the run record back
    load_model(spec)                    a base model by name, folder, .gguf or hub id
    load_likra(model, run_dir)          base model + the pos/neg heads of a training run
    train_run(TrainRunConfig(), out)    train the heads (what `likra train` does)
    evaluate(EvalConfig(), run_dir, out)  score + accuracy per rule (what `likra eval` does)
    score_candidates(likra, q, answers) rank candidate answers (what `likra score` does)
    ScoringEngine, ScoreTable, accuracy the engine, its table, and the rules
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load": "likra.api", "train": "likra.api", "Likra": "likra.api",
    "load_model": "likra.models.loading", "load_likra": "likra.models.likra_model", "train_run": "likra.pipeline",
    "evaluate": "likra.evaluate", "score_candidates": "likra.verify", "ScoringEngine": "likra.scoring.engine",
    "EngineConfig": "likra.scoring.engine", "ScoreTable": "likra.scoring.table", "accuracy": "likra.scoring.rules",
    "TrainRunConfig": "likra.config", "DataConfig": "likra.config", "EvalConfig": "likra.config",
    "ModelConfig": "likra.config", "TrainConfig": "likra.config", "LoraSettings": "likra.config",
    "load_questions": "likra.data.benchmarks", "Question": "likra.data.questions",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'likra' has no attribute {name!r}")
