"""The verifier's second regime: heads trained on the verification questions themselves, k-fold by
question (issue 15: "heads trained on TruthfulQA itself with k-fold cross-validation").

For each fold f, both heads train on every OTHER fold's questions, one pair each as the paper's recipe
has it: the positive head on the question's best answer, the negative head on one of its incorrect
answers drawn at random (a near-miss: the data set's own plausible wrong answer). Fold f's answers are
then scored by fold f's heads, so no answer is ever scored by a head that saw its question. The
folds' scores are put together and reported exactly as `verify_eval` reports one run's: the same
metrics, with Platt calibration cross-fitted on the same folds (every probability held out twice
over: heads and calibration both fitted without the question).

Layout of `out`:
  folds/fold-F.jsonl   fold F's training questions, in likra's user-file format (docs/DATA_FORMAT.md)
  fold-F/              the training run of fold F (resumed, or reused when finished)
  verify.json, cases.csv, reliability.png, calibration-RULE.json   as verify_eval writes them
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from likra.config import DataConfig, ModelConfig, TrainConfig, TrainRunConfig
from likra.errors import ConfigError
from likra.io_utils import atomic_write_text
from likra.verifier.cases import CaseSet, VerifyCase, question_folds
from likra.verifier.features import CaseScores, score_cases


def training_rows(cases: Sequence[VerifyCase], keep: set[str]) -> list[dict]:
    """One user-file row per question in `keep`: choices = [its best answer, *its incorrect answers],
    answer 0, so a random near-miss is always one of its incorrect answers (never another correct one)."""
    by_q: dict[str, list[VerifyCase]] = {}
    for c in cases:
        if c.qid in keep:
            by_q.setdefault(c.qid, []).append(c)
    rows = []
    for qid, answers in by_q.items():
        best = next((c for c in answers if c.is_best), None) or next((c for c in answers if c.is_correct), None)
        wrong = [c.answer for c in answers if not c.is_correct]
        if best is None or not wrong:
            raise ConfigError(f"question {qid} needs a correct and an incorrect answer to train both heads",
                              field="cases")
        rows.append({"id": qid, "question": answers[0].question, "choices": [best.answer, *wrong], "answer": 0})
    return rows


def fold_run_config(train_file: Path, model: str, train: TrainConfig, data_seed: int,
                    data_root: str | None) -> TrainRunConfig:
    """Both heads on the fold's training file; only the final checkpoint is kept (no curve here)."""
    return TrainRunConfig(model=ModelConfig(spec=model),
                          data=DataConfig(user_file=str(train_file), negative_kind="near-miss", seed=data_seed,
                                          data_root=data_root),
                          train=train)


def merge_scores(parts: list[tuple[list[int], CaseScores]], n: int) -> CaseScores:
    """Each fold's scores put back at its cases' positions: one CaseScores over all `n` cases."""
    first = parts[0][1]
    loglik = {h: np.empty(n) for h in first.loglik}
    uncond = np.empty(n) if first.unconditional is not None else None
    ints = {k: np.empty(n, dtype=int) for k in ("n_chars", "n_tokens", "n_bytes")}
    for idx, s in parts:
        for h in loglik:
            loglik[h][idx] = s.loglik[h]
        if uncond is not None:
            uncond[idx] = s.unconditional
        for k in ints:
            ints[k][idx] = getattr(s, k)
    return CaseScores(loglik, uncond, ints["n_chars"], ints["n_tokens"], ints["n_bytes"])


def verify_in_fold(loaded, case_set: CaseSet, folds: int, out: str | Path, *, model: str,
                   train: TrainConfig = TrainConfig(curve=False), data_seed: int = 0, fold_seed: int = 0,
                   weight: float = 1.0, norm: str = "char", rules: Sequence[str] | None = None,
                   data_root: str | None = None, progress: bool = True, batch_tokens: int | None = None) -> dict:
    """Train fold heads, score every case with its own fold's heads, report (see the module doc)."""
    from likra.models.likra_model import load_likra
    from likra.pipeline import train_run
    from likra.verifier.metrics import DEFAULT_BINS
    from likra.verifier.run import report_scores

    out, cases = Path(out), case_set.cases
    fold_of = question_folds(cases, folds, fold_seed)
    rules = list(rules or ("base", "pmi", "sft", "likra", "base-likra"))
    start, parts, runs = time.time(), [], []
    for f in range(folds):
        test = [i for i, k in enumerate(fold_of) if k == f]
        keep = {c.qid for c, k in zip(cases, fold_of) if k != f}
        train_file = out / "folds" / f"fold-{f}.jsonl"
        train_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(train_file, "".join(json.dumps(r) + "\n" for r in training_rows(cases, keep)))
        run = out / f"fold-{f}"
        train_run(fold_run_config(train_file, model, train, data_seed, data_root), run, progress=progress,
                  loaded=loaded)
        likra = load_likra(run_dir=run, loaded=loaded)
        parts.append((test, score_cases(likra, [cases[i] for i in test], pmi="pmi" in rules, progress=progress,
                                        batch_tokens=batch_tokens)))
        runs.append({"fold": f, "run": str(run), "train_file": str(train_file), "train_questions": len(keep),
                     "test_questions": len({cases[i].qid for i in test}), "test_answers": len(test)})
    regime = {"name": "in-fold", "doc": "heads trained on the other folds' questions (best answer / a random "
              "incorrect answer), each fold scored by its own heads", "folds": folds, "fold_seed": fold_seed,
              "data_seed": data_seed, "train": asdict(train), "runs": runs}
    model_summary = {"run": None, "heads": ["pos", "neg"], "checkpoint": "final (per fold)",
                     "base_model": loaded.identity}
    return report_scores(merge_scores(parts, len(cases)), case_set, rules, weight, fold_of, None, norm=norm,
                         seed=fold_seed, bins=DEFAULT_BINS, model=model_summary,
                         origin={"run": None, "checkpoint": None}, start=start, out=out, regime=regime)
