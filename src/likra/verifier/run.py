"""The verifier measured: score every case once, then per rule AUROC, MC1, MC2 and, with calibrated
probabilities, ECE, Brier, the reliability diagram and the flag's precision and recall.

`verify_eval` takes a loaded model (the caller chooses base model and heads, so every regime shares
it) and writes, atomically, into `out`:
  verify.json          the report: config, seeds, versions, the cases' source and every metric
  cases.csv            one row per case: raw log-likelihoods, each rule's score, probability and flag
  reliability.png      observed fraction correct against mean predicted probability, per rule
  calibration-RULE.json  with folds: the calibration fitted on every case (`likra verify` reads it)
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from likra.errors import ConfigError
from likra.io_utils import atomic_path, atomic_write_json, atomic_write_text, library_versions
from likra.verifier import metrics
from likra.verifier.calibration import THRESHOLD_RULE, Calibration, cross_fit, sigmoid
from likra.verifier.cases import CaseSet, VerifyCase, question_folds
from likra.verifier.features import PMI_CONTEXT, TEMPLATE, CaseScores, model_heads, rule_available, score_cases


def verify_eval(likra, cases: CaseSet | Sequence[VerifyCase], rules: Sequence[str] | None = None,
                weight: float = 1.0, folds: int | None = None, calib: Calibration | None = None, *,
                norm: str = "char", seed: int = 0, bins: int = metrics.DEFAULT_BINS,
                out: str | os.PathLike | None = None, progress: bool = True,
                batch_tokens: int | None = None) -> dict:
    """Measure the verifier on `cases` with the heads of `likra` (a LikraModel, or likra.load's Likra).

    rules: those to report (default: every one the heads allow). folds: k-fold cross-fitted Platt
    calibration by question (every probability is held out). calib: instead, one saved calibration
    applied as it is (its rule only). Neither: uncalibrated metrics only. Returns the report."""
    likra = likra if hasattr(likra, "loaded") else likra.model  # likra.load(...) wraps a LikraModel
    case_set = cases if isinstance(cases, CaseSet) else CaseSet(list(cases), "cases")
    rules = _check(likra, case_set.cases, rules, weight, folds, calib, norm, bins)
    fold_of = question_folds(case_set.cases, folds, seed) if folds is not None else None  # fails before scoring
    start = time.time()
    scored = score_cases(likra, case_set.cases, pmi="pmi" in rules, progress=progress, batch_tokens=batch_tokens)
    origin = {"run": str(likra.run_dir) if likra.run_dir else None, "checkpoint": likra.checkpoint}
    return report_scores(scored, case_set, rules, weight, fold_of, calib, norm=norm, seed=seed, bins=bins,
                         model=_model_summary(likra), origin=origin, start=start, out=out)


def report_scores(scored: CaseScores, case_set: CaseSet, rules: Sequence[str], weight: float,
                  fold_of: list[int] | None, calib: Calibration | None, *, norm: str, seed: int, bins: int,
                  model: dict, origin: dict, start: float, out: str | os.PathLike | None,
                  regime: dict | None = None) -> dict:
    """The report (and, with `out`, its files) from cases already scored: one run's heads
    (`verify_eval`), or each fold's own heads put together (`infold.verify_in_fold`)."""
    results, columns = {}, {}
    for rule in rules:
        results[rule], columns[rule] = _rule_report(rule, scored, case_set, weight, norm, fold_of, calib, bins,
                                                    origin)
    folds = len(set(fold_of)) if fold_of is not None else None
    report = {"kind": "likra-verify", "config": _config(rules, weight, norm, folds, seed, bins, calib),
              "cases": _cases_summary(case_set), "model": model, **({"regime": regime} if regime else {}),
              "versions": library_versions(), "seconds": round(time.time() - start, 1), "results": results}
    if out is not None:
        write_outputs(Path(out), report, case_set.cases, scored, columns, fold_of)
    return report


def _check(likra, cases, rules, weight, folds, calib, norm, bins) -> list[str]:
    heads = model_heads(likra)
    rules = list(rules) if rules else [r for r in ("base", "pmi", "sft", "likra", "base-likra")
                                      if rule_available(r, heads)]
    bad = [r for r in rules if not rule_available(r, heads)]
    if bad:
        raise ConfigError(f"rule(s) {bad} not available with heads {heads}", field="rules")
    if folds is not None and calib is not None:
        raise ConfigError("give folds (cross-fit a calibration) or calib (apply a saved one), not both")
    if calib is not None and (calib.rule not in rules or calib.norm != norm or calib.weight != weight):
        raise ConfigError(f"the calibration is for rule {calib.rule!r} at weight {calib.weight:g}, norm "
                          f"{calib.norm!r}; evaluate that rule with that weight and norm", field="calib")
    if not np.isfinite(weight) or weight < 0:
        raise ConfigError(f"weight must be a finite number >= 0, got {weight!r}", field="weight")
    if bins < 1:
        raise ConfigError(f"bins must be >= 1, got {bins}", field="bins")
    return rules


def _rule_report(rule: str, scored: CaseScores, case_set: CaseSet, weight: float, norm: str,
                 fold_of: list[int] | None, calib: Calibration | None, bins: int, origin: dict) -> tuple[dict, dict]:
    """The rule's metrics, and its per-case columns for cases.csv."""
    cases = case_set.cases
    qids, ok = [c.qid for c in cases], np.array([c.is_correct for c in cases])
    best = np.array([c.is_best for c in cases])
    s, raw = scored.scores(rule, weight, norm), scored.scores(rule, weight, "none")
    mc1, n1 = metrics.mc1(qids, s, best, ok)
    mc1_sum, _ = metrics.mc1(qids, raw, best, ok)
    mc2, n2 = metrics.mc2(qids, raw, ok)
    rep = {"auroc": metrics.auroc(s, ok), "mc1": mc1, "mc1_sum": mc1_sum, "mc1_questions": n1,
           "mc2": mc2, "mc2_questions": n2, "uncalibrated_sigmoid_ece": metrics.ece(sigmoid(s), ok, bins)}
    cols = {f"{rule}_score": s}
    probs, thresholds, final = _probabilities(rule, s, ok, fold_of, calib, case_set, weight, norm, origin)
    if probs is None:
        rep["calibration"] = None
        return rep, cols
    flagged = probs < thresholds
    rep["calibration"] = {
        "mode": "cross-fit" if fold_of is not None else "fixed", "ece": metrics.ece(probs, ok, bins),
        "brier": metrics.brier(probs, ok), "reliability": metrics.reliability(probs, ok, bins),
        "flag": metrics.flag_quality(flagged, ok), "flag_at_0.5": metrics.flag_quality(probs < 0.5, ok),
        "threshold": final.threshold, "fitted": final.to_dict()}
    cols.update({f"{rule}_probability": probs, f"{rule}_flagged": flagged})
    return rep, cols


def _probabilities(rule, s, ok, fold_of, calib, case_set, weight, norm, origin):
    """(held-out probabilities, per-case thresholds, the calibration to keep), or Nones uncalibrated."""
    if fold_of is not None:
        fit = cross_fit(s, ok, fold_of)
        a, b, t = fit.final
        final = Calibration(rule, float(weight), norm, a, b, t, THRESHOLD_RULE, len(s), int(ok.sum()),
                            case_set.n_questions, case_set.source, **origin)
        return fit.probs, fit.thresholds, final
    if calib is not None and calib.rule == rule:
        return calib.probability(s), np.full(len(s), calib.threshold), calib
    return None, None, None


def _config(rules, weight, norm, folds, seed, bins, calib) -> dict:
    return {"rules": list(rules), "weight": weight, "norm": norm, "folds": folds,
            "fold_seed": seed if folds else None, "bins": bins, "template": TEMPLATE, "pmi_context": PMI_CONTEXT,
            "calibration": "platt, k-fold cross-fit by question" if folds else
            ("fixed: " + calib.source if calib is not None else None),
            "threshold_rule": THRESHOLD_RULE, "mc2_scores": "summed log-likelihoods (norm none), as lm-eval"}


def _cases_summary(case_set: CaseSet) -> dict:
    return {"source": case_set.source, "n_cases": len(case_set.cases), "n_questions": case_set.n_questions,
            "n_correct": sum(c.is_correct for c in case_set.cases), "skipped_rows": case_set.skipped.count,
            "skipped": str(case_set.skipped), "dropped_answers": case_set.dropped_answers}


def _model_summary(likra) -> dict:
    return {"run": str(likra.run_dir) if likra.run_dir else None, "heads": list(likra.heads),
            "checkpoint": likra.checkpoint, "base_model": likra.loaded.identity}


# ---- files -------------------------------------------------------------------------------------
def write_outputs(out: Path, report: dict, cases: Sequence[VerifyCase], scored: CaseScores,
                  columns: dict[str, dict], fold_of: list[int] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "verify.json", report)
    atomic_write_text(out / "cases.csv", cases_csv(cases, scored, columns, fold_of))
    for rule, rep in report["results"].items():
        if rep["calibration"] and rep["calibration"]["mode"] == "cross-fit":
            atomic_write_json(out / f"calibration-{rule}.json", rep["calibration"]["fitted"])
    plot_reliability(report, out / "reliability.png")


def cases_csv(cases: Sequence[VerifyCase], scored: CaseScores, columns: dict[str, dict],
              fold_of: list[int] | None) -> str:
    """Every case with its raw log-likelihoods (so any rule can be recomputed) and each rule's columns."""
    raw = {f"loglik_{h}": v for h, v in scored.loglik.items()}
    if scored.unconditional is not None:
        raw["loglik_unconditional"] = scored.unconditional
    raw.update({"n_chars": scored.n_chars, "n_tokens": scored.n_tokens})
    per_rule = {k: v for cols in columns.values() for k, v in cols.items()}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["qid", "question", "answer", "is_correct", "is_best", "fold", *raw, *per_rule])
    for i, c in enumerate(cases):
        fold = fold_of[i] if fold_of is not None else ""
        w.writerow([c.qid, c.question, c.answer, int(c.is_correct), int(c.is_best), fold,
                    *(_cell(v[i]) for v in raw.values()), *(_cell(v[i]) for v in per_rule.values())])
    return buf.getvalue()


def _cell(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)


def plot_reliability(report: dict, path: Path) -> Path:
    """Observed fraction correct against mean predicted probability per bin, one line per rule
    (calibrated probabilities; the raw sigmoid of the score when the report has none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfect calibration")
    for rule, rep in report["results"].items():
        cal = rep["calibration"]
        label = f"{rule} (ECE {cal['ece']:.3f})" if cal else f"{rule}: no calibration"
        rows = [r for r in cal["reliability"] if r["count"]] if cal else []
        if rows:
            ax.plot([r["mean_predicted"] for r in rows], [r["observed"] for r in rows], marker="o", label=label)
    cfg, cases = report["config"], report["cases"]
    how = f"{cfg['folds']}-fold held-out Platt" if cfg["folds"] else (cfg["calibration"] or "uncalibrated")
    ax.set_title(f"Reliability: {Path(cases['source']).name}, {cases['n_cases']} answers\n"
                 f"{how}, w={cfg['weight']:g}, norm {cfg['norm']}", fontsize=9)
    ax.set_xlabel("mean predicted probability of being correct (per bin)")
    ax.set_ylabel("observed fraction correct")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    _save_atomic(fig, path)
    plt.close(fig)
    return path


def _save_atomic(fig, path: Path) -> None:
    """savefig into a temporary file beside `path`, then rename: never half a PNG."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
