"""What every experiment shares: one model loaded once, one training run and one evaluation per seed
(resumed or reused when rerun), and the files each experiment writes (CSV + JSON + PNG, atomically).

Layout of an experiment folder (shared by the experiments run into it, so `weights`, `likelihoods`
and `negatives` reuse the runs `curve` trained):
  OUT/seed-S/                 training run of seed S (both heads, checkpoints at 1, 2, 4, ...)
  OUT/seed-S/eval/B-SPLIT/    its score table at every checkpoint (scores.csv, results.json)
  OUT/negatives/KIND/seed-S/  negative-only runs of the `negatives` experiment
  OUT/negatives/mined/seed-S.jsonl  the seed's training questions with the base model's own wrong answers
  OUT/base-scores/            the base model's rows of a test set, scored once and shared by every run
  OUT/NAME.csv, NAME-summary.csv, NAME.json, NAME.png, NAME.md   each experiment's results
"""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

from likra.config import (DataConfig, EvalConfig, ExperimentConfig, ModelConfig, ObjectiveConfig, TrainConfig,
                          TrainRunConfig)
from likra.io_utils import atomic_write_json, atomic_write_text, library_versions
from likra.log import get_logger
from likra.scoring.table import ScoreTable

_logger = get_logger(__name__)
NEAR_MISS_VARIANTS = {"hardest", "easiest"}  # kinds of `negatives` that are near-miss strategies
BASE_CACHE = "base-scores"  # OUT/base-scores/: the base model's rows, scored once for every run of the folder


def short(model: str) -> str:
    """A model's name for plot titles: a named model as is, a path by its last part."""
    return Path(model).name or model


def log(msg: str) -> None:
    _logger.info(msg)


class Session:
    """One experiment's runs over one loaded model."""

    def __init__(self, cfg: ExperimentConfig, out: str | Path, progress: bool = True, loaded=None):
        self.cfg, self.out, self.progress, self._loaded = cfg, Path(out), progress, loaded
        self.skipped: list[str] = []
        """With cfg.finished_only: each part left out, and why (written into the record)."""
        self.kept: dict | None = None
        """With cfg.keep_from: the earlier record grown (run_experiment loads and checks it)."""
        self._kept_report: dict | None = None

    @contextmanager
    def unit(self, label: str):
        """One part of an experiment (a seed, a kind at a seed): with cfg.finished_only, a part whose
        run or table is not finished is left out (its rows are added only after both are read) and
        listed in `skipped`; without it, nothing is caught."""
        from likra.errors import NotFinished

        try:
            yield
        except NotFinished as e:
            if not self.cfg.finished_only:
                raise
            self.skipped.append(f"{label}: {e}")
            _logger.warning(f"--finished-only: leaving out {label}: {e}")

    # ---- the model, loaded once -----------------------------------------------------------------
    @property
    def loaded(self):
        if self._loaded is None:
            from likra.models.loading import load_model

            self._loaded = load_model(self.cfg.model, self.cfg.device, self.cfg.dtype)
        return self._loaded

    # ---- runs -----------------------------------------------------------------------------------
    def train_config(self, seed: int, kind: str = "near-miss", heads: tuple[str, ...] = ("pos", "neg"),
                     objective: str = "nll", user_file: Path | None = None) -> TrainRunConfig:
        """`user_file`: the kind 'mined' trains on the seed's mined file (all of it: its questions are
        already the seed's sample)."""
        c = self.cfg
        beta = c.beta if objective not in ("nll", "unlikelihood") else None
        strategy = kind if kind in NEAR_MISS_VARIANTS else "random"
        return TrainRunConfig(
            model=ModelConfig(spec=c.model, device=c.device, dtype=c.dtype),
            data=DataConfig(benchmark=c.benchmark, train_split=c.train_split, eval_benchmark=c.eval_benchmark,
                            eval_split=c.eval_split, n_train=None if user_file else c.n_train,
                            user_file=str(user_file) if user_file else None,
                            negative_kind="near-miss" if kind in NEAR_MISS_VARIANTS else kind,
                            negative_strategy=strategy, unrelated_benchmark=c.unrelated_benchmark,
                            data_root=c.data_root, seed=seed),
            train=TrainConfig(lr=c.lr, batch_size=c.batch_size, seed=seed,
                              objective=ObjectiveConfig(name=objective, beta=beta)), heads=heads)

    def run_dir(self, seed: int, kind: str | None = None, objective: str | None = None) -> Path:
        if objective is not None:
            return self.out / "objectives" / objective / f"seed-{seed}"
        return self.out / f"seed-{seed}" if kind is None else self.out / "negatives" / kind / f"seed-{seed}"

    def train(self, seed: int, kind: str | None = None, objective: str | None = None) -> Path:
        """The run of `seed` (both heads), a negative-only run of `kind`, or a one-head run of a
        preference `objective`; resumes, or returns at once when it is finished."""
        from likra.pipeline import BASE_SCORES_FILE, train_run

        run = self.run_dir(seed, kind, objective)
        heads = ("pos",) if objective is not None else ("pos", "neg") if kind is None else ("neg",)
        if self.cfg.finished_only:
            require_finished(run, heads)
        if objective is not None:
            cfg = self.train_config(seed, objective=objective, heads=heads)
        elif kind == "mined":
            from likra.experiments.mined import mined_file

            cfg = self.train_config(seed, kind, heads=heads, user_file=mined_file(self, seed))
        else:
            cfg = self.train_config(seed, kind or "near-miss", heads=heads)
        log(f"[{run}] training")
        siblings = self._rankings(seed, kind, BASE_SCORES_FILE) if kind in NEAR_MISS_VARIANTS else ()
        train_run(cfg, run, progress=self.progress, loaded=self.loaded, rankings=siblings)
        return run

    def own_runs(self, name: str, parts: list[dict]) -> dict:
        """--own-runs-only: train and score each of `parts` (Session.train keywords), nothing else; returns
        {"own_runs": the run folders} and writes no record (a rerun without the flag pairs and records them)."""
        runs = []
        for part in parts:
            self.evaluate(run := self.train(**part))
            runs.append(str(run))
        log(f"{name}: {len(runs)} run(s) of its own trained and scored; rerun without --own-runs-only for the record")
        return {"own_runs": runs}

    def _rankings(self, seed: int, kind: str, name: str) -> tuple[Path, ...]:
        """Saved base rankings a `kind` run of `seed` may reuse: the seed's other near-miss variant first,
        then every other seed's variants here. All rank by the same base model (minutes for ARC's 6604 on one
        core); the ranking's key (model, questions) decides: a sampled training set differs by seed, the full
        set is the same questions in every seed."""
        own = [self.run_dir(seed, k) / name for k in sorted(NEAR_MISS_VARIANTS - {kind})]
        saved = (p for k in NEAR_MISS_VARIANTS for p in (self.out / "negatives" / k).glob(f"seed-*/{name}"))
        others = sorted(p for p in saved if p.parent.name != f"seed-{seed}")
        return (*own, *others)

    def eval_config(self, checkpoints: str = "all") -> EvalConfig:
        c = self.cfg
        return EvalConfig(benchmark=c.eval_benchmark, split=c.eval_split, limit=c.limit, shots=c.shots,
                          checkpoints=checkpoints, seed=c.eval_seed, data_root=c.data_root)

    def evaluate(self, run: Path, checkpoints: str = "all") -> ScoreTable:
        """The run's score table at every checkpoint (scored once; a rerun reuses or resumes it)."""
        from likra.evaluate import SCORES_FILE, evaluate
        from likra.models.likra_model import load_likra

        ev = self.eval_config(checkpoints)
        out = run / "eval" / f"{ev.benchmark}-{ev.split}"
        log(f"[{run}] evaluating")
        likra = load_likra(run_dir=run, checkpoint=None, loaded=self.loaded)
        evaluate(ev, run, out, progress=self.progress, likra=likra, reuse_only=self.cfg.finished_only,
                 base_cache=self.out / BASE_CACHE)
        return ScoreTable.load(out / SCORES_FILE)

    # ---- outputs --------------------------------------------------------------------------------
    def summarise(self, rows: list[dict], extra: dict, by: tuple[str, ...],
                  value: str) -> tuple[list[dict], dict, list[dict]]:
        """(rows, extra, summary): rows and extra joined with the kept record's (--keep-from; as they are
        without one), then the mean and 95% interval of `value` across seeds for each `by`. `by` names a
        row with its seed, for the join as for the summary: one list of keys per experiment."""
        from likra.experiments.stats import summarise

        if self.kept is not None:
            from likra.experiments.merge import grow

            rows, extra, self._kept_report = grow(self.kept, self.cfg.keep_from, rows, extra, by)
        return rows, extra, summarise(rows, by, value)

    def write(self, name: str, rows: list[dict], summary: list[dict], extra: dict | None = None) -> dict:
        """NAME.csv (per seed), NAME-summary.csv (mean and 95% interval across seeds), NAME.json (both,
        the config, seeds and library versions) and NAME.md (the summary at a glance: experiments/markdown.py)."""
        from likra.experiments import markdown

        if not rows and (self.cfg.finished_only or self.kept):  # before any file: an earlier record stays as it was
            from likra.errors import NotFinished

            raise NotFinished(f"{name}: nothing in {self.out} is finished yet; left out: " + "; ".join(self.skipped))
        write_csv(self.out / f"{name}.csv", rows)
        write_csv(self.out / f"{name}-summary.csv", summary)
        seeds = sorted({r["seed"] for r in rows}) if self.cfg.finished_only or self.kept else list(self.cfg.seeds)
        config = asdict(self.cfg)
        if self.kept is not None:
            from likra.experiments.merge import grown_config

            config = grown_config(self.kept, config)
        record = {"experiment": name, "config": config, "seeds": seeds,
                  **({"skipped": self.skipped} if self.cfg.finished_only else {}),
                  **({"kept_from": self._kept_report} if self._kept_report else {}),
                  "versions": library_versions(), **(extra or {}), "summary": summary, "rows": rows}
        atomic_write_json(self.out / f"{name}.json", record)
        markdown.write(self.out, record)
        return record

    def draw(self, plot, data) -> None:
        """plot(data, self): a figure is a view of the record already written, so a machine without
        matplotlib (a bare GPU box) gets a warning and no PNG, not a failed experiment."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _logger.warning(f"matplotlib is not installed: {self.out}'s plot is not drawn (the records are written)")
            return
        plot(data, self)

    def with_config(self, **changes) -> "Session":
        return Session(replace(self.cfg, **changes), self.out, self.progress, self._loaded)


def require_finished(run: Path, heads: tuple[str, ...]) -> None:
    """NotFinished unless every head of `run` has finished training (its saved training state says so)."""
    import json

    from likra.errors import NotFinished
    from likra.models.likra_model import STATE_FILE

    for head in heads:
        try:
            state = json.loads((run / head / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFinished(f"{run}: the {head} head has not started training") from None
        if not state.get("finished"):
            raise NotFinished(f"{run}: the {head} head is trained on {state.get('examples_seen')} examples, "
                              "not finished")


def write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    atomic_write_text(path, buf.getvalue())
