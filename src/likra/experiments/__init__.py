"""The paper's findings as commands (`likra experiment NAME`). Each experiment is one declaration
below: a name, the figure it reproduces, and a `run(Session) -> record` function that writes
NAME.csv, NAME-summary.csv, NAME.json, NAME.png and NAME.md (markdown.py) into the experiment folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from likra.config import ExperimentConfig


@dataclass(frozen=True)
class Experiment:
    name: str
    """Command name."""
    figure: str
    """What of the paper it reproduces ('' for a tool or a study beyond the paper)."""
    summary: str
    """One line for --help."""
    run: Callable
    """Session -> record (dict)."""
    grows: bool = True
    """Whether its record can be grown from an earlier one (--keep-from): those built from per-seed runs."""
    own_runs: Callable | None = None
    """ExperimentConfig -> the runs it trains beyond the curve's, as Session.train keywords (--own-runs-only
    trains and scores just these); None: it has none."""


def _lazy(module: str) -> Callable:
    def run(session):
        from importlib import import_module

        return import_module(f"likra.experiments.{module}").run(session)
    return run


EXPERIMENTS = {e.name: e for e in (
    Experiment("curve", "Figs 1, 3", "accuracy against training examples: base, SFT, Likra, Base-Likra; "
               "per-example gain of negatives vs positives", _lazy("curve")),
    Experiment("likelihoods", "Fig 2", "log-likelihood of the correct and the most likely incorrect answer "
               "along training, per head", _lazy("likelihoods")),
    Experiment("weights", "Fig 4", "accuracy against the negative head's weight w, at chosen checkpoints",
               _lazy("weights")),
    Experiment("mass", "Fig 6", "where each head moves probability mass: correct, most likely incorrect, "
               "irrelevant and unrelated answers, relative to the base model", _lazy("mass")),
    Experiment("table", "Table 1", "base, SFT, Likra and Base-Likra at the end of training for every curve "
               "experiment in the subfolders of --out", _lazy("table"), grows=False),
    Experiment("objectives", "beyond the paper", "Likra, SFT, Base-Likra and unlikelihood, DPO, SimPO, ORPO, KTO, "
               "InfoNCA on the same data, seeds and checkpoints", _lazy("objectives"),
               own_runs=lambda c: [{"seed": s, "objective": o} for s in c.seeds for o in c.objectives]),
    Experiment("negatives", "Fig 5", "Likra curves with near-miss (random, hardest, easiest), irrelevant, "
               "unrelated and self-mined (likra mine) negative heads", _lazy("negatives"),
               own_runs=lambda c: [{"seed": s, "kind": k} for s in c.seeds for k in c.negative_kinds
                                   if k != "near-miss"]),
    Experiment("status", "", "what --out holds (or each experiment folder in it): each run's heads and "
               "evaluations (done, or passes saved; running or stopped), mined files and records; loads no model",
               _lazy("status"), grows=False),
    Experiment("claims", "the paper's claims", "a verdict per claim (held, not held, partly, unclear) with its "
               "numbers and intervals, from the records already in --out; loads no model", _lazy("claims"),
               grows=False),
)}


def run_experiment(name: str, cfg: ExperimentConfig, out: str | Path, progress: bool = True, loaded=None) -> dict:
    """Run (or resume) experiment `name` into folder `out`; returns its record (also in out/NAME.json)."""
    from likra.errors import ConfigError
    from likra.experiments.session import Session

    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}")
    session = Session(cfg, out, progress, loaded)
    if cfg.keep_from:  # checked before any model loads
        if not EXPERIMENTS[name].grows:
            raise ConfigError(f"--keep-from: {name} reads other records; it has no per-seed rows to keep")
        from likra.experiments.merge import load_kept

        session.kept = load_kept(cfg.keep_from, name, cfg)
    if cfg.own_runs_only:
        return session.own_runs(name, _own_runs(EXPERIMENTS[name], cfg))
    return EXPERIMENTS[name].run(session)


def _own_runs(e: Experiment, cfg: ExperimentConfig) -> list[dict]:
    """The runs --own-runs-only trains, checked before any model loads."""
    from likra.errors import ConfigError

    parts = e.own_runs(cfg) if e.own_runs else []
    if not parts:
        with_these = " with these settings (near-miss is the curve's own negative head)" if e.own_runs else ""
        raise ConfigError(f"--own-runs-only: {e.name} has no runs of its own{with_these}",
                          field="experiment.own_runs_only")
    return parts
