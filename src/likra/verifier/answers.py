"""The verifier in use: candidate answers to questions -> score, probability of being correct, flag.

Unlike `likra score` (verify.py), which spreads a softmax over the candidates it is given, each
answer here is judged on its own: its probability comes from a Platt calibration of its score alone,
so one candidate gets a probability, and adding or removing other candidates never changes it.
Every candidate of every question goes through one batched engine call (features.score_cases).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from likra.errors import ConfigError, DataError
from likra.verifier.calibration import Calibration, load_calibration
from likra.verifier.cases import VerifyCase
from likra.verifier.features import default_rule, model_heads, rule_available, score_cases

CALIBRATION_FILE = "calibration.json"
"""A run's saved calibration, RUN/calibration.json, written by `likra verify calibrate`."""
NO_CALIBRATION = ("no calibration: raw scores only, no probability or flag; fit one with "
                  "`likra verify calibrate --run RUN` (writes RUN/calibration.json) or pass --calibration FILE")


def find_calibration(run: str | Path | None, path: str | Path | None) -> Calibration | None:
    """The calibration to use: `path` if given, else RUN/calibration.json if it exists, else None."""
    if path is not None:
        return load_calibration(path)
    if run is not None and (Path(run) / CALIBRATION_FILE).is_file():
        return load_calibration(Path(run) / CALIBRATION_FILE)
    return None


def check_items(items: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Every question non-empty, with at least one non-empty answer (before any model loads)."""
    if not items:
        raise DataError("no questions", field="question")
    for q, answers in items:
        if not isinstance(q, str) or not q.strip():
            raise DataError("the question is empty", field="question")
        if not answers or any(not isinstance(a, str) or not a.strip() for a in answers):
            raise DataError("give at least one candidate answer, none empty", field="answers")


def resolve_setting(calibration: Calibration | None, rule: str | None, weight: float | None,
                    norm: str | None) -> tuple[str | None, float, str]:
    """(rule, weight, norm): the calibration's, which a flag may repeat but not change (the fit holds for
    that score only); without one, the flags, with weight 1 and norm char by default."""
    if calibration is None:
        return rule, 1.0 if weight is None else weight, norm or "char"
    for name, given, fitted in (("rule", rule, calibration.rule), ("weight", weight, calibration.weight),
                                ("norm", norm, calibration.norm)):
        if given is not None and given != fitted:
            raise ConfigError(f"--{name} {given} differs from the calibration's {fitted}: its probabilities hold for "
                              f"its own score only; drop --{name}, refit, or pass --no-calibration", field=name)
    return calibration.rule, calibration.weight, calibration.norm


def verify_answers(likra, items: Sequence[tuple[str, Sequence[str]]], calibration: Calibration | None = None,
                   rule: str | None = None, weight: float | None = None, norm: str | None = None,
                   progress: bool = False) -> list[dict]:
    """Per question: each answer's score under the rule and, with a calibration, its probability of
    being correct and `flagged` (p under the calibration's threshold)."""
    check_items(items)
    likra = likra if hasattr(likra, "loaded") else likra.model
    rule, weight, norm = resolve_setting(calibration, rule, weight, norm)
    heads = model_heads(likra)
    rule = rule or default_rule(heads)
    if not rule_available(rule, heads):
        raise ConfigError(f"rule {rule!r} needs heads the model lacks (it has {heads})", field="rule")
    # is_correct is unknown here and unused: only the score is computed
    cases = [VerifyCase(str(i), q, a, False) for i, (q, answers) in enumerate(items) for a in answers]
    scores = score_cases(likra, cases, pmi=rule == "pmi", progress=progress).scores(rule, weight, norm)
    probs = calibration.probability(scores) if calibration is not None else None
    out, k = [], 0
    for q, answers in items:
        rows = []
        for a in answers:
            row = {"answer": a, "score": float(scores[k])}
            if probs is not None:
                row.update(probability=float(probs[k]), flagged=bool(probs[k] < calibration.threshold))
            rows.append(row)
            k += 1
        out.append({"question": q, "rule": rule, "weight": weight, "norm": norm, "checkpoint": likra.checkpoint,
                    "threshold": calibration.threshold if calibration else None, "answers": rows,
                    "ranking": sorted(range(len(rows)), key=lambda i: -rows[i]["score"]),  # best first
                    **({} if calibration else {"note": NO_CALIBRATION})})
    return out


def with_generated(likra, items: Sequence[tuple[str, Sequence[str]]], k: int, seed: int,
                   progress: bool = False) -> list[tuple[str, list[str]]]:
    """Each question's given answers plus up to k answers sampled from the base model (seeded, one line
    each, deduplicated against each other and against the given ones): the candidates to rerank."""
    from likra.mining.generation import SamplingConfig, dedup_key, generate_for

    sampled = generate_for(likra, [q for q, _ in items], SamplingConfig(k=k, seed=seed), progress=progress)
    out = []
    for (q, given), new in zip(items, sampled):
        seen = {dedup_key(a) for a in given}
        extra = [a for a in new if dedup_key(a) not in seen]
        out.append((q, [*given, *extra]))
    return out
