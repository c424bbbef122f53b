"""Decision rules over a score table: which choice each rule picks, and accuracy with a 95% interval.

No model here: every rule and weight is recomputed from the table alone.
  base        L_base                 the untouched model
  sft         L+                     positive head alone
  likra       L+ - w * L-            SFT-Likra
  base-likra  L_base - w * L-        negatives only
Each L is a summed log-likelihood, optionally divided by the choice's characters (lm-eval's
acc_norm), tokens or bytes. Ties go to the first choice, as with numpy.argmax in lm-eval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from likra.scoring.table import ScoreRow, ScoreTable

# rule name -> (heads it needs, how it combines them given w)
RULES: dict[str, tuple[tuple[str, ...], Callable[[dict[str, float], float], float]]] = {
    "base": (("base",), lambda s, w: s["base"]),
    "sft": (("pos",), lambda s, w: s["pos"]),
    "likra": (("pos", "neg"), lambda s, w: s["pos"] - w * s["neg"]),
    "base-likra": (("base", "neg"), lambda s, w: s["base"] - w * s["neg"]),
    "neg": (("neg",), lambda s, w: s["neg"]),  # the negative head alone, for analysis
}
NORMS = ("none", "char", "token", "byte")


def _normalised(row: ScoreRow, norm: str) -> float:
    if norm == "none":
        return row.logprob
    denom = {"char": row.n_chars, "token": row.n_tokens, "byte": row.n_bytes}[norm]
    return row.logprob / max(denom, 1)


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


def choice_scores(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
                  checkpoint: str | None = None) -> dict[tuple[str, str], tuple[list[float], int]]:
    """(benchmark, question id) -> (score per choice, gold index) under `rule`."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    heads, combine = RULES[rule]
    per_head: dict[str, dict[tuple[str, str, int], ScoreRow]] = {}
    for head in heads:
        rows = table.select(head, checkpoint)
        if not rows:
            raise ValueError(f"rule {rule!r} needs head {head!r} at checkpoint {checkpoint!r}, absent from the table")
        per_head[head] = {(r.benchmark, r.question_id, r.choice): r for r in rows}
    keys = set.intersection(*(set(d) for d in per_head.values()))
    out: dict[tuple[str, str], tuple[list[float], int]] = {}
    for bench, qid, choice in sorted(keys, key=lambda k: (k[0], k[1], k[2])):
        vals = {h: _normalised(per_head[h][(bench, qid, choice)], norm) for h in heads}
        scores, gold = out.setdefault((bench, qid), ([], -1))
        if choice != len(scores):
            raise ValueError(f"question {qid}: choice {choice} missing for some head")
        scores.append(combine(vals, weight))
        if per_head[heads[0]][(bench, qid, choice)].gold:
            out[(bench, qid)] = (scores, choice)
    return out


def predictions(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
                checkpoint: str | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """(benchmark, question id) -> (picked choice, gold choice)."""
    out = {}
    for key, (scores, gold) in choice_scores(table, rule, weight, norm, checkpoint).items():
        out[key] = (max(range(len(scores)), key=lambda i: (scores[i], -i)), gold)
    return out


def accuracy(table: ScoreTable, rule: str, weight: float = 1.0, norm: str = "char",
             checkpoint: str | None = None) -> Accuracy:
    preds = predictions(table, rule, weight, norm, checkpoint)
    correct = sum(p == g for p, g in preds.values())
    low, high = wilson_interval(correct, len(preds))
    return Accuracy(rule, weight, norm, correct, len(preds), low, high)
