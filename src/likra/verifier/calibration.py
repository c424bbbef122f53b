"""From a verifier score to a probability that the answer is correct: Platt scaling, and the flag.

Platt scaling, p = sigmoid(a * s + b), is a logistic regression on the one-dimensional score. Not
temperature scaling: that divides the logits of a softmax over alternatives, and a single candidate
answer has no alternatives to normalise over; its score (a per-character log-likelihood, or a
difference of them) sits at an arbitrary offset, so the fit needs the bias b as well as the slope a.

The fit is Newton's method on the two parameters in numpy: the 2x2 Hessian is exact, it converges in
a few steps, deterministically, with no torch (a saved calibration loads and applies without it).
Targets are Platt's (1999) smoothed labels, (N+ + 1) / (N+ + 2) for correct and 1 / (N- + 2) for
incorrect answers, so perfectly separated scores still give a finite slope.

The flag: an answer is flagged (predicted false) when p < threshold. The threshold is the one with
the fewest errors (a false answer not flagged plus a correct one flagged, counted equally) on
held-out predictions; for a well calibrated p that is p < 0.5, the Bayes rule for equal costs, and
choosing it on held-out data corrects what calibration leaves. Ties go to the threshold nearest 0.5.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from likra.checks import at_least, checked, nonempty, one_of, optional
from likra.errors import ArtifactError, ConfigError
from likra.io_utils import atomic_write_json, read_json_object

FORMAT = "likra-verifier-calibration"
"""The `format` field of a saved calibration."""
VERSION = 1
THRESHOLD_RULE = "min-errors"
"""How the threshold was chosen: fewest held-out errors, equal costs (module docstring)."""


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))  # 1 / (1 + e^-z) without overflow


def _loss(z: np.ndarray, t: np.ndarray) -> float:
    """Cross-entropy against soft targets: -t log p - (1 - t) log(1 - p), p = sigmoid(z)."""
    return float(np.sum(t * np.logaddexp(0.0, -z) + (1 - t) * np.logaddexp(0.0, z)))


def fit_platt(scores, labels, max_steps: int = 100, tol: float = 1e-10) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * s + b) maximising the likelihood of Platt's smoothed labels."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    if len(s) == 0 or len(s) != len(y) or not np.isfinite(s).all():
        raise ConfigError("Platt scaling needs as many finite scores as labels, at least one")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    mu, sd = s.mean(), s.std()
    x = (s - mu) / (sd if sd > 0 else 1.0)  # standardised: a well-conditioned Hessian at any score scale
    X = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.array([0.0, math.log((n_pos + 1) / (n_neg + 1))])  # start at the base rate
    loss = _loss(X @ theta, t)
    for _ in range(max_steps):
        p = sigmoid(X @ theta)
        grad = X.T @ (p - t)
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-9 * np.eye(2)  # ridge: constant scores are singular
        step = np.linalg.solve(hess, grad)
        lam = 1.0
        while lam > 1e-10:  # halve the step until the loss does not rise (Newton can overshoot)
            new = theta - lam * step
            new_loss = _loss(X @ new, t)
            if new_loss <= loss:
                break
            lam /= 2
        else:
            break
        done = np.max(np.abs(new - theta)) < tol
        theta, loss = new, new_loss
        if done:
            break
    a = theta[0] / (sd if sd > 0 else 1.0)
    return float(a), float(theta[1] - a * mu)


def choose_threshold(probs, labels) -> float:
    """The flag threshold with the fewest errors on (probs, labels): flagged = p < threshold, an error
    is a flagged correct answer or an unflagged incorrect one. Candidates sit between distinct
    probabilities (and at 0 and 1); ties go to the candidate nearest 0.5."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=bool)
    if len(p) == 0:
        return 0.5
    order = np.argsort(p, kind="stable")
    p, y = p[order], y[order]
    # flagging the k lowest: errors = correct among them + incorrect among the rest
    flagged_correct = np.concatenate([[0], np.cumsum(y)])
    unflagged_wrong = np.concatenate([[0], np.cumsum(~y)])
    errors = flagged_correct + (unflagged_wrong[-1] - unflagged_wrong)
    cut = np.concatenate([[0.0], (p[:-1] + p[1:]) / 2, [1.0]])
    valid = np.concatenate([[True], p[1:] > p[:-1], [True]])  # never split equal probabilities
    cut, errors = cut[valid], errors[valid]
    best = np.flatnonzero(errors == errors.min())
    return float(cut[best[np.argmin(np.abs(cut[best] - 0.5))]])


@dataclass(frozen=True)
class Calibration:
    """A fitted Platt calibration of one rule's score, saved as JSON beside the run."""

    rule: str
    """The verifier rule whose score it maps (likra, base-likra, sft, base, pmi)."""
    weight: float
    """w in the rule (L+ - w*L-, L_base - w*L-); the score, and so the fit, depend on it."""
    norm: str
    """How each log-likelihood was normalised before the rule: none, char, token or byte."""
    a: float
    """Slope of p = sigmoid(a * s + b)."""
    b: float
    """Bias of p = sigmoid(a * s + b)."""
    threshold: float
    """An answer is flagged (predicted false) when p < threshold."""
    threshold_rule: str = THRESHOLD_RULE
    """How the threshold was chosen (THRESHOLD_RULE: fewest held-out errors)."""
    n_fit: int = 0
    """Cases (question, answer pairs) the slope and bias were fitted on."""
    n_correct: int = 0
    """Of those, the correct answers."""
    n_questions: int = 0
    """Questions those cases come from."""
    source: str = ""
    """What it was fitted on (the cases' file)."""
    run: str | None = None
    """The training run whose heads produced the scores."""
    checkpoint: int | None = None
    """Examples seen by the heads at the fit (None for a bare model)."""

    SECTION: ClassVar[str] = "calibration"

    def __post_init__(self):
        from likra.verifier.features import VERIFY_RULES

        finite = lambda v: None if math.isfinite(v) else "must be a finite number"  # noqa: E731
        checked(self, rule=one_of(*VERIFY_RULES), weight=at_least(0), norm=one_of("none", "char", "token", "byte"),
                a=finite, b=finite, threshold=lambda v: None if 0 <= v <= 1 else "must be in [0, 1]",
                threshold_rule=nonempty, n_fit=at_least(0), n_correct=at_least(0), n_questions=at_least(0),
                checkpoint=optional(at_least(0)))

    def probability(self, scores) -> np.ndarray:
        """float64 [case]: calibrated probability that each answer is correct."""
        return sigmoid(self.a * np.asarray(scores, dtype=np.float64) + self.b)

    def flagged(self, probs) -> np.ndarray:
        """bool [case]: predicted false (p under the threshold)."""
        return np.asarray(probs, dtype=np.float64) < self.threshold

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_json(path, self.to_dict())


def load_calibration(path: str | os.PathLike) -> Calibration:
    """A calibration saved by `Calibration.save`; a damaged or foreign file is an ArtifactError."""
    data = read_json_object(path, fix="refit it with `likra verify calibrate`")
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ArtifactError(f"not a likra verifier calibration (format {FORMAT!r} version {VERSION})", path=str(path))
    known = set(Calibration.__dataclass_fields__)
    try:
        return Calibration(**{k: v for k, v in data.items() if k in known})
    except (ConfigError, TypeError) as e:
        raise ArtifactError(str(e), path=str(path), field=getattr(e, "field", None)) from e


@dataclass
class CrossFit:
    """Held-out calibrated probabilities from k-fold cross-fitting, and the calibration fitted on all."""

    probs: np.ndarray
    """float64 [case]: p from the calibration fitted without the case's fold."""
    thresholds: np.ndarray
    """float64 [case]: the flag threshold of that fold's calibration, chosen on its own training folds."""
    final: tuple[float, float, float]
    """(a, b, threshold) fitted on every case; the threshold chosen on the held-out `probs`."""


def cross_fit(scores, labels, folds) -> CrossFit:
    """For each fold: fit Platt and choose the threshold on the other folds, predict this one. Every
    reported number then comes from a calibrator that never saw the question (folds are by question)."""
    s, y, f = np.asarray(scores, np.float64), np.asarray(labels, bool), np.asarray(folds)
    probs, thresholds = np.empty(len(s)), np.empty(len(s))
    for k in np.unique(f):
        train, test = f != k, f == k
        a, b = fit_platt(s[train], y[train])
        probs[test] = sigmoid(a * s[test] + b)
        thresholds[test] = choose_threshold(sigmoid(a * s[train] + b), y[train])
    a, b = fit_platt(s, y)
    return CrossFit(probs, thresholds, (a, b, choose_threshold(probs, y)))
