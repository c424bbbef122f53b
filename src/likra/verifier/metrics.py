"""How well a score tells correct answers from incorrect ones, and how honest its probabilities are.

Exact definitions (docs/VERIFY.md says the same):
- AUROC: probability that a random correct answer scores above a random incorrect one, ties 1/2
  (Mann-Whitney U from average ranks), over all cases pooled across questions.
- MC1: per question, 1 when its reference answer (TruthfulQA's 'Best Answer'; a Question's gold)
  scores strictly above every incorrect answer, else 0 (upstream TruthfulQA's MC1: `scores_true[best]
  > max(scores_false)`); the mean over questions. The other correct answers take no part.
- MC2: per question, the normalised probability mass of the correct answers,
  sum_true exp(ll) / sum_all exp(ll), over its correct and incorrect answers, from raw summed
  log-likelihoods (lm-eval 0.4.13 truthfulqa `process_results_mc2`); the mean over questions.
- ECE: equal-width bins of the predicted probability on [0, 1] (the last bin includes 1),
  sum_b (n_b / N) |mean p in b - fraction correct in b|.
- The flag (predicted false) is the positive class of precision and recall: precision = flagged
  incorrect / flagged, recall = flagged incorrect / incorrect.
numpy only; NaN where a metric is undefined (one class missing, nothing flagged).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_BINS = 10
"""Equal-width probability bins for ECE and the reliability diagram."""


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]]))
    ends = np.concatenate([starts[1:], [len(x)]])
    avg = (starts + ends + 1) / 2.0  # ranks starts+1..ends average to this
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auroc(scores, labels) -> float:
    """Area under the ROC curve of `scores` separating True labels (correct) from False."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    u = _ranks(s)[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _by_question(qids: Sequence[str]) -> list[np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(qids):
        groups.setdefault(q, []).append(i)
    return [np.array(g) for g in groups.values()]


def mc1(qids: Sequence[str], scores, is_best, is_correct) -> tuple[float, int]:
    """(MC1, questions counted): a question counts when it has a best answer and an incorrect one."""
    s, best, ok = np.asarray(scores, np.float64), np.asarray(is_best, bool), np.asarray(is_correct, bool)
    hits = []
    for idx in _by_question(qids):
        b, wrong = idx[best[idx]], idx[~ok[idx]]
        if len(b) == 1 and len(wrong):
            hits.append(float(s[b[0]] > s[wrong].max()))
    return (float(np.mean(hits)) if hits else float("nan")), len(hits)


def mc2(qids: Sequence[str], logliks, is_correct) -> tuple[float, int]:
    """(MC2, questions counted) from summed log-likelihoods; a question counts when it has both a
    correct and an incorrect answer. Computed in log space (exp of a long answer's -80 underflows
    in lm-eval's plain np.exp, which then divides 0 by 0; the two agree wherever it does not)."""
    ll, ok = np.asarray(logliks, np.float64), np.asarray(is_correct, bool)
    mass = []
    for idx in _by_question(qids):
        if ok[idx].any() and (~ok[idx]).any():
            mass.append(float(np.exp(np.logaddexp.reduce(ll[idx][ok[idx]]) - np.logaddexp.reduce(ll[idx]))))
    return (float(np.mean(mass)) if mass else float("nan")), len(mass)


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((p * bins).astype(int), bins - 1)  # p = 1 falls in the last bin


def reliability(probs, labels, bins: int = DEFAULT_BINS) -> list[dict]:
    """Per equal-width bin: its range, mean predicted probability, observed fraction correct and count
    (means None for an empty bin): the data of a reliability diagram."""
    p, y = np.asarray(probs, np.float64), np.asarray(labels, bool)
    which = _bin_index(p, bins)
    out = []
    for b in range(bins):
        m = which == b
        n = int(m.sum())
        out.append({"lo": b / bins, "hi": (b + 1) / bins, "count": n,
                    "mean_predicted": float(p[m].mean()) if n else None,
                    "observed": float(y[m].mean()) if n else None})
    return out


def ece(probs, labels, bins: int = DEFAULT_BINS) -> float:
    """Expected calibration error over `bins` equal-width bins."""
    rows = reliability(probs, labels, bins)
    n = sum(r["count"] for r in rows)
    if not n:
        return float("nan")
    return float(sum(r["count"] / n * abs(r["mean_predicted"] - r["observed"]) for r in rows if r["count"]))


def brier(probs, labels) -> float:
    """Mean squared error of the probability of being correct."""
    p, y = np.asarray(probs, np.float64), np.asarray(labels, bool)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def flag_quality(flagged, labels) -> dict:
    """Precision, recall and F1 of the flag, incorrect answers being the positive class; and counts."""
    f, y = np.asarray(flagged, bool), np.asarray(labels, bool)
    hit = int((f & ~y).sum())
    n_flagged, n_false = int(f.sum()), int((~y).sum())
    precision = hit / n_flagged if n_flagged else float("nan")
    recall = hit / n_false if n_false else float("nan")
    f1 = 2 * hit / (n_flagged + n_false) if n_flagged + n_false else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "flagged": n_flagged, "false_answers": n_false,
            "accuracy": float(np.mean(f != y)) if len(f) else float("nan")}
