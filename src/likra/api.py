"""The small Python surface: `likra.load(...)` and `likra.train(...)`, over the same engine and trainer
the command line uses.

    import likra
    record = likra.train("runs/arc256", model="smollm2-135m", n_train=256)
    model = likra.load("runs/arc256")                  # a run folder, or a run/head on the hub: owner/name
    model.score("Which gas do plants take in?", ["carbon dioxide", "oxygen"])
    model.evaluate("arc_challenge", limit=200)          # what `likra eval` reports
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from likra.config import DataConfig, EvalConfig, TrainConfig, TrainRunConfig, override


@dataclass
class Likra:
    """A base model with the heads of a run loaded at one checkpoint, ready to score and evaluate."""

    model: object
    """The LikraModel underneath (base model, PEFT heads, run folder, loaded checkpoint)."""

    @property
    def heads(self) -> tuple[str, ...]:
        """The run's heads ('pos', 'neg', or one of them); () for a bare model."""
        return self.model.heads

    @property
    def checkpoint(self) -> int | None:
        """Examples seen by the loaded heads."""
        return self.model.checkpoint

    def score(self, question: str, candidates: list[str], weight: float = 1.0, norm: str = "char",
              rule: str | None = None) -> dict:
        """Rank candidate answers by the rule (Likra when both heads are there): per-answer
        log-likelihoods, score and a probability over the candidates, as `likra score` prints."""
        from likra.verify import score_candidates

        return score_candidates(self.model, question, list(candidates), weight, norm, rule=rule)

    def verify(self, question: str, candidates: list[str] = (), generate: int = 0, seed: int = 0,
               calibration: str | Path | None = None) -> dict:
        """`likra verify`: each candidate's score, and with a calibration (the file given, else the run's
        calibration.json) its probability of being correct and a flag; `generate` K more answers sampled
        from the base model (seeded) are ranked with the given ones; `ranking` lists them best first."""
        from likra.verifier.answers import find_calibration, verify_answers, with_generated

        items = [(question, list(candidates))]
        if generate:
            items = with_generated(self.model, items, generate, seed)
        return verify_answers(self.model, items, find_calibration(self.model.run_dir, calibration))[0]

    def evaluate(self, benchmark: str = "arc_challenge", split: str = "test", out: str | Path | None = None,
                 progress: bool = True, **settings) -> dict:
        """Accuracy of every rule on a benchmark split, as `likra eval` reports it (EvalConfig's fields
        as keywords: limit, shots, checkpoints, weights, ...). Written to `out` (default
        RUN/eval/BENCHMARK-SPLIT); the report is returned."""
        from likra.evaluate import evaluate

        cfg = override(EvalConfig(benchmark=benchmark, split=split), **settings)
        run = self.model.run_dir
        out = Path(out) if out else Path(run or "runs/base") / "eval" / f"{benchmark}-{split}"
        return evaluate(cfg, run, out, progress=progress, likra=self.model)

    def engine(self, **settings):
        """The scoring engine over this model and its heads (`score`, `score_requests`)."""
        return self.model.engine(**settings)


def load(run: str | Path | None = None, *, model: str | None = None, checkpoint: str | int = "final",
         device: str = "auto", dtype: str = "auto", cache_dir: str | None = None) -> Likra:
    """A training run's heads on their base model, at `checkpoint` ('final' or examples seen).

    `run`: a run folder (`likra train --out`), a hub repo id 'owner/name[@revision]' holding a run or
    one head (likra.run_source), or None for a bare `model`. `model` overrides the run's own base
    model (a named model, a folder, a .gguf file or a hub id).
    """
    from likra.models.likra_model import load_likra
    from likra.run_source import resolve_run

    run_dir = resolve_run(run, cache_dir) if run is not None else None
    return Likra(load_likra(model, run_dir, device, dtype, cache_dir, checkpoint=checkpoint))


def train(out: str | Path, config: TrainRunConfig | None = None, *, model: str | None = None,
          resume: bool = True, progress: bool = True, **settings) -> dict:
    """Train the heads into `out`, as `likra train` does; returns the run record (run.json).

    Settings come from `config` (a TrainRunConfig), then keywords naming DataConfig or TrainConfig
    fields (n_train=256, negative_kind='irrelevant', lr=1e-4, seed=1, ...; `seed` sets both).
    """
    from likra.pipeline import train_run

    cfg = config or TrainRunConfig()
    data_keys = {k for k in settings if k in DataConfig.__dataclass_fields__}
    train_keys = {k for k in settings if k in TrainConfig.__dataclass_fields__}
    unknown = set(settings) - data_keys - train_keys
    if unknown:
        from likra.errors import ConfigError

        raise ConfigError(f"likra.train: unknown setting(s) {sorted(unknown)}; settings are the fields of "
                          "DataConfig and TrainConfig (likra.config)")
    cfg = replace(cfg, model=override(cfg.model, spec=model) if model else cfg.model,
                  data=override(cfg.data, **{k: settings[k] for k in data_keys}),
                  train=override(cfg.train, **{k: settings[k] for k in train_keys}))
    return train_run(cfg, out, resume=resume, progress=progress)


__all__ = ["Likra", "load", "train"]
