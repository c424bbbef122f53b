"""`claims`: the paper's claims judged from the records the other experiments wrote into --out, one
verdict each, with the numbers and intervals it rests on. No model is loaded: it reads NAME.json.

Each claim is one declaration in CLAIMS: its letter, the paper's words, the record it reads and a
judge. A judge compares per-seed values PAIRED by seed (the difference of two rules within each seed,
then a 95% t interval of the mean difference across seeds) and, where the record keeps per-question
outcomes, the interval that also counts which questions the test drew (`stats.crossed_interval`: seeds
x questions). It judges the span of the two (`judged`; with one seed there is no verdict, since training
variance is unmeasured):
  held          the interval is on the claim's side of its threshold
  not held      the interval is on the other side
  partly        (claims with two parts) one part held, the other not
  unclear       the interval straddles the threshold, or one seed only (no interval)
  not measured  the record is missing: the verdict names the command that writes it
The thresholds are stated in each claim's `rule` text, and are written with the verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from likra.experiments.outcomes import difference_matrix, rise_matrix, selects
from likra.experiments.records import load_record
from likra.experiments.stats import crossed_interval, mean_interval, ratio_interval
from likra.experiments.stats import format_interval as fmt

CLOSE = 0.03
"""(e): Base-Likra counts as 'close to' Likra when their paired difference lies within +-0.03 accuracy."""
PEAK = (0.8, 1.1)
"""(d): a peak 'near 0.9-1.0' is a best w whose across-seed mean lies in [0.8, 1.1] at every checkpoint."""
PAPER_RATIO = 10.0
"""(b): the paper's per-example worth of a negative against a positive."""


@dataclass(frozen=True)
class Verdict:
    status: str
    numbers: str


@dataclass(frozen=True)
class Claim:
    key: str
    """The claim's letter in the issue and docs/RESULTS.md."""
    text: str
    """The paper's claim."""
    record: str
    """The experiment whose NAME.json it reads."""
    rule: str
    """How the verdict is decided (thresholds included)."""
    judge: Callable[[dict], Verdict]


def _ci(values: list[float]) -> tuple[float, float, float]:
    return mean_interval([v for v in values if v is not None and not math.isnan(v)])




def difference(rec: dict, examples: int, a: dict, b: dict, **match) -> tuple[tuple, tuple | None, str]:
    """a - b at `examples`: (mean and interval across seeds, paired by seed; the interval across seeds and
    questions, or None without per-question outcomes; their text). `a` and `b` select rows by their keys
    (e.g. {"rule": "likra"}); `match` is shared by both (e.g. rule="likra")."""
    pick = lambda sel: {r["seed"]: r["accuracy"] for r in rec["rows"] if r["examples"] == examples  # noqa: E731
                        and selects(r, {**match, **sel})}
    seeds = _ci(paired(pick(a), pick(b)))
    return with_questions(seeds, difference_matrix(rec, examples, {**match, **a}, {**match, **b}))


def with_questions(seeds: tuple, matrix: list[list[float]] | None) -> tuple[tuple, tuple | None, str]:
    """(the interval across seeds, the one across seeds and questions from the seeds x questions `matrix`
    or None without one, their text)."""
    both = crossed_interval(matrix) if matrix else None
    if both is None:
        return seeds, None, fmt(*seeds)
    if len(matrix) == 1:
        return seeds, both, f"{seeds[0]:.3f} (one seed; over questions only [{both[1]:.3f}, {both[2]:.3f}])"
    return seeds, both, f"{fmt(*seeds)}; with questions [{both[1]:.3f}, {both[2]:.3f}]"


def verdict_side(seeds: tuple, both: tuple | None, threshold: float = 0.0) -> str:
    """`side` of the interval a verdict rests on (`judged`); one seed measures no training variance:
    unclear."""
    if math.isnan(seeds[1]):
        return "unclear"
    return side(*judged(seeds, both), threshold)


def judged(seeds: tuple, both: tuple | None) -> tuple[float, float]:
    """(low, high) a verdict rests on: the span of the interval across seeds and the one across seeds
    and questions, so that a claim holds against another training run on these questions and against
    another draw of questions alike. (With two seeds the crossed interval can be the narrower: its
    seed component is estimated as 0 when the seeds differ no more than question noise explains, while
    the seeds-only interval takes t with 1 degree of freedom.)"""
    if both is None or math.isnan(seeds[1]):  # one seed: no interval to judge on
        return seeds[1], seeds[2]
    return min(seeds[1], both[1]), max(seeds[2], both[2])


def side(lo: float, hi: float, threshold: float = 0.0) -> str:
    """held when the interval is above the threshold, not held when below, else unclear."""
    if math.isnan(lo):
        return "unclear"
    return "held" if lo > threshold else "not held" if hi < threshold else "unclear"


def _final_by_seed(rows: list[dict], key: str, value: str, **match) -> tuple[int, dict[int, float]]:
    """{seed: value} at the largest example count among rows matching `match` (key: the rule column)."""
    rows = [r for r in rows if selects(r, match)]
    final = max(r["examples"] for r in rows)
    return final, {r["seed"]: r[value] for r in rows if r["examples"] == final}


def paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    return [a[s] - b[s] for s in sorted(a) if s in b]


def seeds_word(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def judge_a(rec: dict) -> Verdict:
    n, likra = _final_by_seed(rec["rows"], "rule", "accuracy", rule="likra")
    _, sft = _final_by_seed(rec["rows"], "rule", "accuracy", rule="sft")
    seeds, both, text = difference(rec, n, {"rule": "likra"}, {"rule": "sft"})
    return Verdict(verdict_side(seeds, both), f"at {n} examples: Likra {fmt(*_ci(list(likra.values())))}, SFT "
                                              f"{fmt(*_ci(list(sft.values())))}; Likra - SFT {text} "
                                              f"({seeds_word(len(likra))})")


def judge_b(rec: dict) -> Verdict:
    window = next((g for g in rec.get("gain", []) if g["window"] == [64, 256]), None)
    if window is None:
        return Verdict("not measured", "no 64 -> 256 window in curve.json (train to at least 256 examples)")
    r = window["ratio"]
    seeds = (r["mean"], r["low"], r["high"])
    text = f"64 -> 256: a negative is worth {fmt(*seeds, 1)} positives across seeds (paper ~10)"
    both = gain_with_questions(rec, 64, 256)
    if both is not None:
        (_, lo, hi), g_pos, g_neg, more = both
        bounds = "unbounded" if math.isinf(lo) or math.isinf(hi) else f"[{lo:.1f}, {hi:.1f}]"
        text += (f"; with questions {bounds}; per example, with questions: positives {_sci(g_pos)}, negatives "
                 f"{_sci(g_neg)}, negatives - positives {_sci(more)}")
    else:
        text += f"; per example: positives {window['pos']['mean']:.1e}, negatives {window['neg']['mean']:.1e}"
    lo, hi = judged(seeds, both[0] if both is not None else None)
    if math.isnan(lo) or math.isinf(lo) or math.isinf(hi):
        status = "unclear"  # one seed, or positives' gain not told from 0: the ratio is not measured
    elif lo > 1:
        status = "held" if hi >= PAPER_RATIO else "partly"
    else:  # not shown to be worth more than a positive: not held if shown below 10 too, else unclear
        status = "not held" if hi < PAPER_RATIO else "unclear"
    return Verdict(status, text)


def gain_with_questions(rec: dict, a: int, b: int) -> tuple[tuple, ...] | None:
    """Claim (b) counting the questions: (g-/g+ with its Fieller interval; g+, g- and g- - g+ each with
    its crossed interval), from per-question outcomes (RESULTS.md's definitions of g+ and g-, question
    by question); None when the record keeps none."""
    pos = rise_matrix(rec, (a, b), {"rule": "sft"})
    neg = rise_matrix(rec, (a, b), {"rule": "likra"}, minus={"rule": "sft"})
    if pos is None or neg is None:
        return None
    more = [[n - p for n, p in zip(rn, rp)] for rn, rp in zip(neg, pos)]
    return ratio_interval(neg, pos), crossed_interval(pos), crossed_interval(neg), crossed_interval(more)


def _sci(m: tuple) -> str:
    return f"{m[0]:.1e} [{m[1]:.1e}, {m[2]:.1e}]"


def judge_c(rec: dict) -> Verdict:
    finals = {}
    for kind in ("near-miss", "irrelevant", "unrelated"):
        if not any(r["kind"] == kind for r in rec["rows"]):
            return Verdict("not measured", f"no {kind} negatives in negatives.json")
        n, finals[kind] = _final_by_seed(rec["rows"], "kind", "accuracy", kind=kind, rule="likra")
    near_irr = difference(rec, n, {"kind": "near-miss"}, {"kind": "irrelevant"}, rule="likra")
    irr_unr = difference(rec, n, {"kind": "irrelevant"}, {"kind": "unrelated"}, rule="likra")
    parts = [verdict_side(*near_irr[:2]), verdict_side(*irr_unr[:2])]
    status = parts[0] if parts[0] == parts[1] else "partly" if "held" in parts else "unclear"
    accs = ", ".join(f"{k} {fmt(*_ci(list(v.values())))}" for k, v in finals.items())
    return Verdict(status, f"Likra at {n} examples: {accs}; near-miss - irrelevant {near_irr[2]}, "
                           f"irrelevant - unrelated {irr_unr[2]}")


def judge_d(rec: dict) -> Verdict:
    """The rise is measured at the paper's w = 1 against w = 0 (SFT), not at each seed's best w: the best
    of 31 weights is above w = 0 by selection alone, and on a flat curve its place is noise. Without a
    rise there is no peak to place, so the verdict is unclear whatever the best w."""
    peaks = [p for p in rec.get("peak_weight", []) if p["rule"] == "likra"]
    if not peaks:
        return Verdict("not measured", "no Likra peak in weights.json")
    inside = [PEAK[0] <= p["mean"] <= PEAK[1] for p in peaks]
    n = peaks[-1]["examples"]
    rows = [r for r in rec["rows"] if r["rule"] == "likra" and r["examples"] == n]
    one = min({r["weight"] for r in rows}, key=lambda w: abs(w - 1.0))
    at = {w: {r["seed"]: r["accuracy"] for r in rows if r["weight"] == w} for w in (0, one)}
    matrix = difference_matrix(rec, n, {"rule": "likra", "weight": one}, {"rule": "likra", "weight": 0})
    rise, both, text = with_questions(_ci(paired(at[one], at[0])), matrix)
    rises = verdict_side(rise, both)
    if rises != "held":
        status = "not held" if rises == "not held" else "unclear"
    else:
        status = "held" if all(inside) else "partly" if any(inside) else "not held"
    where = "; ".join(f"{p['examples']}: {fmt(p['mean'], p['low'], p['high'], 2)}" for p in peaks)
    return Verdict(status, f"best w by checkpoint: {where}; accuracy gained from w = 0 to w = {one:g} at {n}: {text}")


def judge_e(rec: dict) -> Verdict:
    n, _ = _final_by_seed(rec["rows"], "rule", "accuracy", rule="likra")
    seeds, both, text = difference(rec, n, {"rule": "likra"}, {"rule": "base-likra"})
    lo, hi = judged(seeds, both)
    status = "unclear" if math.isnan(seeds[1]) else "held" if -CLOSE <= lo and hi <= CLOSE else (
        "not held" if lo > CLOSE or hi < -CLOSE else "unclear")
    return Verdict(status, f"at {n} examples: Likra - Base-Likra {text} (close: within +-{CLOSE})")


def judge_f(rec: dict) -> Verdict:
    """Separation each head adds (change relative to base): the positive head's is how much more it raises
    the correct answer than the most likely incorrect one; the negative head's is how much more it raises
    the most likely incorrect one than the correct one (what L+ - L- subtracts)."""
    rows = rec["rows"]
    n = max(r["examples"] for r in rows)
    at = {(r["seed"], r["head"], r["answer"]): r["delta_loglik"] for r in rows if r["examples"] == n}
    seeds = sorted({s for s, _, _ in at})
    wrong = "most likely incorrect"
    s_pos = {s: at[(s, "pos", "correct")] - at[(s, "pos", wrong)] for s in seeds}
    s_neg = {s: at[(s, "neg", wrong)] - at[(s, "neg", "correct")] for s in seeds}
    kept = {e["seed"]: e["values"] for e in (rec.get("questions") or {}).get("separation", []) if e["examples"] == n}
    matrix = [kept[s] for s in seeds] if kept and all(s in kept for s in seeds) else None
    d, both, text = with_questions(_ci(paired(s_neg, s_pos)), matrix)
    return Verdict(verdict_side(d, both), f"at {n} examples, separation (per-character log-likelihood): negative "
                                          f"head {fmt(*_ci(list(s_neg.values())))}, positive head "
                                          f"{fmt(*_ci(list(s_pos.values())))}; difference {text} "
                                          f"({seeds_word(len(seeds))})")


CLAIMS = (
    Claim("a", "Likra beats SFT", "curve", "Likra - SFT at the last checkpoint, paired by seed: interval above 0",
          judge_a),
    Claim("b", "in the critical phase a negative example is worth ~10x a positive one", "curve",
          f"g-/g+ over 64 -> 256 (with questions: Fieller's interval): held if above 1 and reaching "
          f"{PAPER_RATIO:g}, partly if above 1 but below {PAPER_RATIO:g}, not held if reaching 1 and below "
          f"{PAPER_RATIO:g}, unclear if it holds both (an unbounded one does)", judge_b),
    Claim("c", "near-miss negatives teach more than irrelevant, irrelevant more than unrelated", "negatives",
          "Likra at the last checkpoint, paired differences of the three kinds: both intervals above 0", judge_c),
    Claim("d", "accuracy rises with w and peaks near 0.9-1.0", "weights",
          f"best w's mean in [{PEAK[0]}, {PEAK[1]}] at every checkpoint, and accuracy at it above w = 0", judge_d),
    Claim("e", "Base-Likra is close to SFT-Likra", "curve",
          f"Likra - Base-Likra at the last checkpoint within +-{CLOSE}", judge_e),
    Claim("f", "the negative head separates plausible wrong answers from right ones more than the positive "
               "head does", "mass",
          "separation added by the negative head minus the positive head's, at the last checkpoint: above 0",
          judge_f),
)


def judge_all(folder: Path) -> list[dict]:
    out = []
    for c in CLAIMS:
        path = folder / f"{c.record}.json"
        if path.exists():
            v = c.judge(load_record(path))
        else:
            v = Verdict("not measured", f"no {c.record}.json: run `likra experiment {c.record}` into this folder")
        out.append({"claim": c.key, "text": c.text, "status": v.status, "numbers": v.numbers, "rule": c.rule,
                    "record": str(path)})
    return out


def markdown(verdicts: list[dict]) -> str:
    lines = ["| claim | verdict | numbers (mean [95% CI across seeds]; with questions: the 95% CI that also counts "
             "the test's questions) |", "|---|---|---|"]
    lines += [f"| ({v['claim']}) {v['text']} | **{v['status']}** | {v['numbers']} |" for v in verdicts]
    return "\n".join(lines) + "\n"


def run(s) -> dict:
    from likra.experiments.session import log
    from likra.io_utils import atomic_write_json, atomic_write_text, library_versions

    verdicts = judge_all(s.out)
    atomic_write_text(s.out / "claims.md", markdown(verdicts))
    record = {"experiment": "claims", "folder": str(s.out), "versions": library_versions(),
              "thresholds": {"close": CLOSE, "peak": PEAK, "paper_ratio": PAPER_RATIO}, "verdicts": verdicts}
    atomic_write_json(s.out / "claims.json", record)
    for v in verdicts:
        log(f"claim ({v['claim']}) {v['status']}: {v['numbers']}")
    # what `likra experiment claims` prints, and the files it lists
    return record | {"report": markdown(verdicts), "files": [str(s.out / "claims.md"), str(s.out / "claims.json")]}
