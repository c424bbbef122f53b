"""Decision rules over a score table: which choice each rule picks, and accuracy with a 95% interval.

No model here: every rule and weight is recomputed from the table alone.
  base        L_base                 the untouched model
  sft         L+                     positive head alone
  likra       L+ - w * L-            SFT-Likra
  base-likra  L_base - w * L-        negatives only
Each L is a summed log-likelihood, optionally divided by the choice's characters (lm-eval's
acc_norm), tokens or bytes. Ties go to the first choice, as with numpy.argmax in lm-eval.
Every rule reads the table's choice matrices (matrix.py), never its rows: a whole sweep of weights
is a few array operations over [weight, question, choice].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from likra.scoring.matrix import NORMS, Question
from likra.scoring.table import ScoreTable

# rule name -> (heads it needs, how it combines them given w); the combination also takes arrays
RULES: dict[str, tuple[tuple[str, ...], Callable[[dict[str, float], float], float]]] = {
    "base": (("base",), lambda s, w: s["base"]),
    "sft": (("pos",), lambda s, w: s["pos"]),
    "likra": (("pos", "neg"), lambda s, w: s["pos"] - w * s["neg"]),
    "base-likra": (("base", "neg"), lambda s, w: s["base"] - w * s["neg"]),
    "neg": (("neg",), lambda s, w: s["neg"]),  # the negative head alone, for analysis
    # a preference-trained head (dpo, ...) stored as pos: its implicit reward, head minus base
    "reward": (("pos", "base"), lambda s, w: s["pos"] - w * s["base"]),
}
ANALYSIS_RULES = ("neg", "reward")
"""Rules `report` leaves out unless asked: the negative head alone, and the implicit reward."""
MAX_CELLS = 1 << 22
"""A sweep computes at most this many (weight, question, choice) scores at once (32 MiB of float64)."""


@dataclass(frozen=True)
class Accuracy:
    rule: str
    """Rule name."""
    weight: float
    """w in L+ - w*L- (ignored by single-head rules)."""
    norm: str
    """Normalisation of each log-likelihood: none, char, token or byte."""
    correct: int
    """Questions whose picked choice is gold."""
    n: int
    """Questions scored."""
    low: float
    """Lower end of the 95% Wilson interval."""
    high: float
    """Upper end of the 95% Wilson interval."""

    @property
    def acc(self) -> float:
        return self.correct / self.n if self.n else float("nan")


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval: well behaved for small n and accuracies near 0 or 1."""
    if n == 0:
        return float("nan"), float("nan")
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class _Layout:
    """The heads a rule needs, lined up on the questions scored under all of them."""

    keys: list[Question]
    """(benchmark, question id) of row i, sorted."""
    scores: dict[str, np.ndarray]
    """head -> float64 [question, choice] (NaN where `present` is False)."""
    present: np.ndarray
    """bool [question, choice]: the choice is scored under every head; always choices 0..k-1."""
    gold: np.ndarray
    """int [question]: the gold choice under the rule's first head, -1 where it has none among `present`."""


def _layout(table: ScoreTable, rule: str, norm: str, checkpoint: str | None) -> _Layout:
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    heads, columns = RULES[rule][0], table.columns()
    for head in heads:
        if not columns.has(head, checkpoint):
            raise ValueError(f"rule {rule!r} needs head {head!r} at checkpoint {checkpoint!r}, absent from the table")
    matrices = {h: columns.matrix(h, checkpoint, norm) for h in heads}
    present = np.logical_and.reduce([~np.isnan(m.scores) for m in matrices.values()])
    gap = present[:, 1:] & ~present[:, :-1]  # a choice scored under every head after one that is not
    if gap.any():
        q = int(np.argmax(gap.any(axis=1)))
        first_missing = int(np.argmin(present[q]))
        choice = first_missing + int(np.argmax(present[q, first_missing:]))
        raise ValueError(f"question {columns.keys[q][1]}: choice {choice} missing for some head")
    gold = matrices[heads[0]].gold
    gold = np.where((gold >= 0) & present[np.arange(len(gold)), np.maximum(gold, 0)], gold, -1)
    kept = present.any(axis=1)  # questions scored under every head
    scores = {h: m.scores for h, m in matrices.items()}
    keys = columns.keys
    if not kept.all():
        keys = [keys[i] for i in np.flatnonzero(kept)]
        scores, present, gold = {h: s[kept] for h, s in scores.items()}, present[kept], gold[kept]
    return _Layout(keys, scores, present, gold)


def _combined(layout: _Layout, rule: str, weights: np.ndarray) -> np.ndarray:
    """float64 [weight, question, choice]; [1, question, choice] for a rule that ignores the weight."""
    combined = RULES[rule][1](layout.scores, weights[:, None, None])
    return combined if combined.ndim == 3 else combined[None]


def _picks(layout: _Layout, rule: str, weights: np.ndarray) -> np.ndarray:
    """int [weight, question]: the choice each weight picks; ties to the first, never a missing choice."""
    combined = _combined(layout, rule, weights)
    picks = np.where(layout.present, combined, -np.inf).argmax(axis=-1)
    return np.broadcast_to(picks, (len(weights), len(layout.keys)))


def choice_scores(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
                  checkpoint: str | None = None) -> dict[tuple[str, str], tuple[list[float], int]]:
    """(benchmark, question id) -> (score per choice, gold index) under `rule`."""
    layout = _layout(table, rule, norm, checkpoint)
    combined = _combined(layout, rule, np.array([weight], dtype=np.float64))[0].tolist()
    counts = layout.present.sum(axis=1).tolist()
    return {key: (row[:k], g) for key, row, k, g in zip(layout.keys, combined, counts, layout.gold.tolist())}


def predictions(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
                checkpoint: str | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """(benchmark, question id) -> (picked choice, gold choice)."""
    layout = _layout(table, rule, norm, checkpoint)
    picks = _picks(layout, rule, np.array([weight], dtype=np.float64))[0]
    return dict(zip(layout.keys, zip(picks.tolist(), layout.gold.tolist())))


def correct_vector(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
                   checkpoint: str | None = None) -> tuple[list[Question], np.ndarray]:
    """The questions scored under `rule`, sorted, and whether each one's picked choice is gold (bool
    array in the same order): per-question outcomes, for paired comparisons of rules or weights."""
    layout = _layout(table, rule, norm, checkpoint)
    picks = _picks(layout, rule, np.array([weight], dtype=np.float64))[0]
    return list(layout.keys), picks == layout.gold


def accuracy(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
             checkpoint: str | None = None) -> Accuracy:
    return accuracy_sweep(table, rule, [weight], norm, checkpoint)[0]


def accuracy_sweep(table: ScoreTable, rule: str, weights: Iterable[float], norm: str = "char",
                   checkpoint: str | None = None) -> list[Accuracy]:
    """`accuracy` at each of `weights`, in order, from one vectorised pass over [weight, question, choice]."""
    weights = list(weights)
    layout = _layout(table, rule, norm, checkpoint)
    n = len(layout.keys)
    w = np.array(weights, dtype=np.float64)
    step = max(1, MAX_CELLS // max(1, layout.present.size))
    correct = np.concatenate([(_picks(layout, rule, w[i:i + step]) == layout.gold).sum(axis=1)
                              for i in range(0, len(w), step)] or [np.zeros(0, np.int64)])
    out = []
    for weight, c in zip(weights, correct.tolist()):
        low, high = wilson_interval(c, n)
        out.append(Accuracy(rule, weight, norm, c, n, low, high))
    return out
