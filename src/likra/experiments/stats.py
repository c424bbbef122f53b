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


def format_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'0.427 [0.402, 0.452]', or the mean with '(one seed: no interval)' when the bounds are NaN."""
    if math.isnan(low):
        return f"{mean:.{digits}f} (one seed: no interval)"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
