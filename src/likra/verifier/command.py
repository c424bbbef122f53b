"""`likra verify`: judge candidate answers one by one (score, probability of being correct, flag), and
`likra verify calibrate`: fit that probability on TruthfulQA and measure the verifier (docs/VERIFY.md).

Wired into cli.py as `add_parser(sub, common)`; `args.func(args)` runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from likra.cli_args import _model_args, finite_float
from likra.errors import ConfigError

EXAMPLES = """examples:
  likra verify --run runs/tqa --question "What happens if you swallow gum?" --answers "It passes through you."
  likra verify --run runs/tqa --input candidates.jsonl     one {"question": ..., "answers": [...]} per line
  likra verify --run runs/tqa --question "What happens if you swallow gum?" --generate 8   rerank 8 sampled answers
  likra verify calibrate --run runs/tqa --folds 5          writes runs/tqa/calibration.json and a report
  likra verify in-fold --model smollm2-135m --folds 5 --out runs/verify-tqa-infold
                                  heads trained on TruthfulQA itself, each fold scored by heads that never saw it
Without a calibration (--calibration FILE, or RUN/calibration.json) only the raw score is printed."""


FOLDS = 5
"""Default k of `likra verify calibrate`'s cross-fitting."""
SCORE_ONLY = ("question", "answers", "input", "calibration", "no_calibration", "generate", "sample_seed")
CALIBRATE_ONLY = ("cases", "data_root", "folds", "seed", "limit", "out", "save", "batch_tokens")
INFOLD_ONLY = ("cases", "data_root", "folds", "seed", "limit", "out", "batch_tokens", "lr", "batch_size",
               "train_seed")
MODE_OPTIONS = {"score": SCORE_ONLY, "calibrate": CALIBRATE_ONLY, "in-fold": INFOLD_ONLY}
"""The options each mode reads; any other mode's option given is an error, not silently ignored."""


def add_parser(sub, common) -> None:
    p = sub.add_parser("verify", help="judge candidate answers: Likra score, calibrated probability of being "
                                      "correct, flag (docs/VERIFY.md)", parents=[common], epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="score (default): each candidate answer is judged on its own, one JSON line "
                                   "per question. calibrate: fit Platt scaling on TruthfulQA with k-fold "
                                   "cross-fitting by question, report AUROC/MC1/MC2/ECE/flag precision and "
                                   "recall, and save the calibration to RUN/calibration.json. in-fold: "
                                   "the second regime: train both heads on the cases' own questions, k-fold "
                                   "by question (best answer / an incorrect answer as near-miss), score each "
                                   "fold with the heads that never saw it, and report as calibrate does.")
    p.add_argument("mode", nargs="?", default="score", choices=tuple(MODE_OPTIONS),
                   help="score candidate answers (default), fit the calibration, or train-and-verify k-fold")
    p.add_argument("--run", help="training run folder with the heads")
    _model_args(p, default_spec=None)
    p.add_argument("--checkpoint", default="final", help="final (default) or the examples seen of a saved checkpoint")
    p.add_argument("--rule", choices=("likra", "base-likra", "sft", "base", "pmi"),
                   help="score rule (default: the calibration's, else likra when both heads are there)")
    p.add_argument("--weight", type=finite_float, help="w in L+ - w*L- (default: the calibration's, else 1)")
    p.add_argument("--norm", choices=("none", "char", "token", "byte"),
                   help="per-character (default), token or byte log-likelihoods, or none")
    g = p.add_argument_group("score mode")
    g.add_argument("--question", help="the question")
    g.add_argument("--answers", nargs="+", help="one or more candidate answers")
    g.add_argument("--input", help="JSONL file, one {\"question\": ..., \"answers\": [...]} per line")
    g.add_argument("--generate", type=int, default=0, metavar="K",
                   help="also sample K answers from the base model (seeded by --sample-seed, one line each, "
                        "deduplicated) and rank them with the given ones; --answers may then be omitted")
    g.add_argument("--sample-seed", type=int, default=0, help="seed of --generate's sampling (default 0)")
    g.add_argument("--calibration", help="calibration JSON (default: RUN/calibration.json if present)")
    g.add_argument("--no-calibration", action="store_true", help="raw scores only, even if a calibration exists")
    g = p.add_argument_group("calibrate and in-fold modes")
    g.add_argument("--cases", help="truthfulqa (default: DATA_ROOT/truthfulqa/TruthfulQA.csv) or a CSV in its format")
    g.add_argument("--data-root", help="benchmark data folder (default $LIKRA_DATA or ../shared/data)")
    g.add_argument("--folds", type=int, help=f"k of the by-question cross-fitting (default {FOLDS})")
    g.add_argument("--seed", type=int, help="seed of the fold split (default 0)")
    g.add_argument("--limit", type=int, help="only the first N questions (a quick look)")
    g.add_argument("--out", help="report folder (default RUN/verify/CASES)")
    g.add_argument("--save", help="where to write the calibration (default RUN/calibration.json)")
    g.add_argument("--batch-tokens", type=int, help="padded tokens per forward pass (default: the device's)")
    g = p.add_argument_group("in-fold mode (also --model, required, and --out, required)")
    g.add_argument("--lr", type=finite_float, help="constant learning rate of the fold heads (default 1e-4)")
    g.add_argument("--batch-size", type=int, help="examples per step (default 8)")
    g.add_argument("--train-seed", type=int, help="seed of training order and near-miss draws (default 0)")
    p.set_defaults(func=cmd_verify)


def cmd_verify(a) -> int:
    _check_common(a)
    if a.mode == "in-fold":
        from likra.verifier.infold_command import in_fold

        return in_fold(a)
    return _calibrate(a) if a.mode == "calibrate" else _score(a)


def _check_common(a) -> None:
    other = dict.fromkeys(k for opts in MODE_OPTIONS.values() for k in opts if k not in MODE_OPTIONS[a.mode])
    stray = ["--" + k.replace("_", "-") for k in other if getattr(a, k) not in (None, False)]
    if stray:
        raise ConfigError(f"likra verify {a.mode}: {', '.join(stray)} belong(s) to another mode "
                          f"(see likra verify --help)")
    if not a.run and not a.model:
        raise ConfigError("likra verify: give --run (a training run with heads) and/or --model (a bare model)")
    if a.checkpoint != "final" and not a.checkpoint.isdigit():
        raise ConfigError(f"--checkpoint: 'final' or a number of examples seen, got {a.checkpoint!r}")
    if a.weight is not None and a.weight < 0:
        raise ConfigError(f"--weight: must be >= 0, got {a.weight:g}")


def _load(a):
    from likra.models.likra_model import load_likra

    return load_likra(a.model, a.run, a.device or "auto", a.dtype or "auto", a.cache_dir, checkpoint=a.checkpoint)


def _score(a) -> int:
    """Everything the user gave is read and checked before the model loads."""
    from likra.verifier.answers import NO_CALIBRATION, check_items, find_calibration, resolve_setting, verify_answers
    from likra.verify import candidate_items

    if a.generate < 0:
        raise ConfigError(f"--generate: a number of answers >= 0, got {a.generate}")
    if a.generate and a.question and not a.answers and not a.input:
        items = [(a.question, [])]  # every candidate will be generated
    else:
        items = candidate_items(a.input, a.question, a.answers, "likra verify")
        check_items(items)
    if a.no_calibration and a.calibration:
        raise ConfigError("likra verify: --calibration and --no-calibration contradict each other")
    calibration = None if a.no_calibration else find_calibration(a.run, a.calibration)
    resolve_setting(calibration, a.rule, a.weight, a.norm)  # a conflicting flag fails here, not after loading
    if calibration is None:
        print(f"likra verify: {NO_CALIBRATION}", file=sys.stderr)
    likra = _load(a)
    _warn_if_other_run(calibration, likra)
    if a.generate:
        from likra.verifier.answers import with_generated

        items = with_generated(likra, items, a.generate, a.sample_seed, progress=not getattr(a, "quiet", False))
    for result in verify_answers(likra, items, calibration, a.rule, a.weight, a.norm,
                                 progress=not getattr(a, "quiet", False)):
        print(json.dumps(result))
    return 0


def _warn_if_other_run(calibration, likra) -> None:
    if calibration is None:
        return
    here = (str(likra.run_dir) if likra.run_dir else None, likra.checkpoint)
    if (calibration.run, calibration.checkpoint) != here and calibration.run is not None:
        print(f"likra verify: warning: the calibration was fitted on {calibration.run} at checkpoint "
              f"{calibration.checkpoint}; these heads are {here[0]} at {here[1]}: its probabilities may not hold",
              file=sys.stderr)


def _calibrate(a) -> int:
    from likra.verifier.cases import read_truthfulqa, truthfulqa_cases
    from likra.verifier.features import default_rule, model_heads, rule_available
    from likra.verifier.run import verify_eval

    folds, seed, source = FOLDS if a.folds is None else a.folds, a.seed or 0, a.cases or "truthfulqa"
    if folds < 2:
        raise ConfigError(f"--folds: at least 2, got {folds}")
    if a.limit is not None and a.limit < 1:
        raise ConfigError(f"--limit: at least 1, got {a.limit}")
    if not a.run and not a.save:
        raise ConfigError("likra verify calibrate: without --run, say where the calibration goes with --save")
    cases = (truthfulqa_cases(a.data_root, limit=a.limit) if source == "truthfulqa"
             else read_truthfulqa(source, limit=a.limit))
    if folds > cases.n_questions:
        raise ConfigError(f"--folds {folds}: more folds than questions ({cases.n_questions})")
    name = "truthfulqa" if source == "truthfulqa" else Path(source).stem
    out = Path(a.out) if a.out else Path(a.run or ".") / "verify" / name
    likra = _load(a)
    heads = model_heads(likra)
    rule = a.rule or default_rule(heads)
    if not rule_available(rule, heads):
        raise ConfigError(f"--rule {rule}: needs heads the model lacks (it has {', '.join(heads)})")
    weight, norm = 1.0 if a.weight is None else a.weight, a.norm or "char"
    report = verify_eval(likra, cases, None, weight, folds=folds, norm=norm, seed=seed, out=out,
                         progress=not getattr(a, "quiet", False), batch_tokens=a.batch_tokens)
    from likra.verifier.calibration import load_calibration

    save = Path(a.save) if a.save else Path(a.run) / "calibration.json"
    load_calibration(out / f"calibration-{rule}.json").save(save)  # checked on the way
    print(format_summary(report))
    print(f"calibration ({rule}, w={weight:g}, norm {norm}): {save}\nreport: {out / 'verify.json'}  "
          f"cases: {out / 'cases.csv'}  plot: {out / 'reliability.png'}")
    return 0


def format_summary(report: dict) -> str:
    """One line per rule: the held-out numbers of the report."""
    c = report["cases"]
    lines = [f"{c['n_cases']} answers to {c['n_questions']} questions ({c['n_correct']} correct); "
             f"{report['config']['folds']}-fold held-out calibration",
             f"{'rule':<11}{'AUROC':>7}{'MC1':>7}{'MC2':>7}{'ECE':>7}{'thresh':>8}{'flag P':>8}{'flag R':>8}"]
    for rule, r in report["results"].items():
        cal = r["calibration"] or {}
        flag = cal.get("flag", {})
        cells = [r["auroc"], r["mc1"], r["mc2"], cal.get("ece"), cal.get("threshold"), flag.get("precision"),
                 flag.get("recall")]
        widths = [7, 7, 7, 7, 8, 8, 8]
        lines.append(f"{rule:<11}" + "".join(_fmt(v, w) for v, w in zip(cells, widths)))
    return "\n".join(lines)


def _fmt(v, width: int) -> str:
    return f"{v:>{width}.3f}" if isinstance(v, float) and v == v else f"{'-':>{width}}"
