"""Summaries across seeds: the mean and a 95% Student-t interval (few seeds: the t quantile matters).

Stdlib only. With one seed there is no spread to measure: the interval is NaN and says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable, Sequence

# two-sided 95% Student-t quantiles t_{0.975, df}, df = 1..30; above 30 the normal 1.96 is within 2%
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): a 95% t interval for the mean across seeds; NaN bounds with one value."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def summarise(rows: Iterable[dict], by: Sequence[str], value: str) -> list[dict]:
    """Group per-seed rows by the `by` columns: mean, 95% interval and the number of seeds of `value`."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in by)].append(r[value])
    out = []
    for key, values in groups.items():
        mean, low, high = mean_interval(values)
        out.append({**dict(zip(by, key)), "mean": mean, "low": low, "high": high, "seeds": len(values)})
    return out


def format_interval(mean: float, low: float, high: float, digits: int = 3, spec: str | None = None) -> str:
    """'0.427 [0.402, 0.452]', or the mean with '(one seed: no interval)' when the bounds are NaN; `spec`
    formats each number in place of `digits` decimals (".4g" for per-example gains such as 8.333e-05)."""
    spec = spec or f".{digits}f"
    if math.isnan(low):
        return f"{mean:{spec}} (one seed: no interval)"
    return f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


def crossed_interval(matrix: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """(mean, low, high): a 95% interval for the grand mean of a seeds x questions matrix (e.g. 1 where
    Likra is right and SFT wrong, -1 the other way round, 0 where they agree) that counts both sources of
    variation: which seeds trained the heads, and which questions the test drew.

    Two-way crossed random effects: the ANOVA mean squares of seeds (MS_S), questions (MS_Q) and the
    residual (MS_E) estimate Var(mean) = (MS_S + MS_Q - MS_E) / (S Q); a variance component estimated
    below 0 is set to 0 and dropped from that sum, and the t quantile takes Satterthwaite's degrees of
    freedom (few seeds: wide). Its limits: seeds that agree on every question give the t interval over
    questions; questions that agree within every seed give the t interval over seeds; one seed gives the
    paired t interval over questions (training variance is then not measured)."""
    n_seeds = len(matrix)
    n_q = len(matrix[0]) if n_seeds else 0
    if any(len(row) != n_q for row in matrix):
        raise ValueError("every seed needs a value for every question, in the same order")
    if n_seeds == 0 or n_q == 0:
        return math.nan, math.nan, math.nan
    if n_seeds == 1 or n_q == 1:
        return mean_interval([x for row in matrix for x in row])
    m = sum(map(sum, matrix)) / (n_seeds * n_q)
    seed_means = [sum(row) / n_q for row in matrix]
    q_means = [sum(col) / n_seeds for col in zip(*matrix)]
    ms_s = n_q * sum((x - m) ** 2 for x in seed_means) / (n_seeds - 1)
    ms_q = n_seeds * sum((x - m) ** 2 for x in q_means) / (n_q - 1)
    df_e = (n_seeds - 1) * (n_q - 1)
    ms_e = sum((x - rs - cq + m) ** 2 for row, rs in zip(matrix, seed_means) for x, cq in zip(row, q_means)) / df_e
    keep_s, keep_q = ms_s > ms_e, ms_q > ms_e  # positive seed and question variance components
    terms = [(1.0 * keep_s, ms_s, n_seeds - 1), (1.0 * keep_q, ms_q, n_q - 1), (1.0 - keep_s - keep_q, ms_e, df_e)]
    var = sum(c * ms for c, ms, _ in terms) / (n_seeds * n_q)
    if var <= 0:
        return m, m, m
    df = (var * n_seeds * n_q) ** 2 / sum((c * ms) ** 2 / d for c, ms, d in terms if c)
    half = t975(max(1, int(df))) * math.sqrt(var)
    return m, m - half, m + half


def ratio_interval(numer: Sequence[Sequence[float]], denom: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """(ratio, low, high): a 95% Fieller interval for mean(numer) / mean(denom), both seeds x questions
    matrices of the same shape: the ratios r whose contrast numer - r * denom has a `crossed_interval`
    holding 0. Where the denominator's mean is not told from 0, no finite r is excluded on one side or
    both, and that bound is infinite: the ratio is not measured, however tight an interval across seeds
    alone may look."""
    rows = list(zip(numer, denom))
    mean = lambda m: sum(map(sum, m)) / (len(m) * len(m[0]))  # noqa: E731
    n_bar, d_bar = mean(numer), mean(denom)
    if d_bar == 0:
        return math.nan, -math.inf, math.inf
    est = n_bar / d_bar

    def holds(r: float) -> bool:
        _, lo, hi = crossed_interval([[a - r * b for a, b in zip(na, da)] for na, da in rows])
        return lo <= 0 <= hi

    def bound(direction: int) -> float:
        scale = max(abs(est), 1e-9)
        step, inside = scale * 1e-3, est
        while holds(est + direction * step):  # widen until r is excluded (or call it unbounded)
            inside = est + direction * step
            step *= 2
            if step > scale * 1e6:
                return direction * math.inf
        outside = est + direction * step
        for _ in range(50):  # bisect the edge
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if holds(mid) else (inside, mid)
        return inside

    return est, bound(-1), bound(1)
