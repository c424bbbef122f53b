"""The README says what the code does: its demo figures come from the demo's own defaults, and its
demo table is what `likra demo` prints (the slow test re-runs it)."""

from __future__ import annotations

import argparse
import re

import pytest

from tests.docs_text import README, RESULTS, SEED_WORDS, claim_f, listed


def demo_defaults() -> argparse.Namespace:
    from likra.demo import add_demo_args

    p = argparse.ArgumentParser()
    add_demo_args(p)
    return p.parse_args([])


def readme_table() -> list[str]:
    block = README.split("### What the demo shows", 1)[1].split("```", 2)[1]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_readme_demo_prose_matches_the_demo_defaults():
    d = demo_defaults()
    assert f"head on {d.n_train} ARC questions" in README
    assert f"scores {d.n_test} ARC-Challenge test questions" in README
    rows = readme_table()[1:]
    assert rows and all(r.split()[0] == str(d.n_train) and r.split()[-1] == str(d.n_test) for r in rows)


def test_readme_demo_time_matches_the_measured_wall_time():
    stated = re.search(r"about\s+(\d+)\s+minutes on 2 CPU cores", README)
    measured = re.search(r"Wall time on an idle 2-core machine: (\d+) min (\d+) s", README)
    assert stated and measured
    assert abs(int(stated.group(1)) * 60 - (int(measured.group(1)) * 60 + int(measured.group(2)))) <= 60


@pytest.mark.slow
def test_readme_demo_table_is_what_the_demo_prints(tmp_path, capsys):
    from likra.cli import main

    assert main(["--quiet", "demo", "--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in readme_table():
        assert line in printed


SEED0 = RESULTS.parent / "results" / "smollm2-arc-1024" / "seed-0" / "scores.csv"


@pytest.mark.skipif(not SEED0.exists(), reason="no committed score table")
def test_results_table_is_what_likra_report_computes_from_the_committed_table():
    from likra.evaluate import report
    from likra.scoring.table import ScoreTable

    rep = {(r["checkpoint"], r["rule"]): r["acc_norm"] for r in report(ScoreTable.load(SEED0))["results"]}
    text = RESULTS.read_text(encoding="utf-8").split("seed 0 in detail", 1)[1]
    block = text.split("| examples per head | base | SFT | Likra | Base-Likra |", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in block.strip().splitlines()[1:]]
    assert len(rows) >= 9
    for cells in rows:
        examples, *values = [c.strip() for c in cells]
        for rule, value in zip(("base", "sft", "likra", "base-likra"), values):
            assert f"{rep[(examples, rule)]:.3f}" == value, (examples, rule)


def test_readme_headline_is_the_committed_three_seed_curve():
    import json

    curve = json.loads((RESULTS.parent / "results" / "smollm2-arc-1024" / "curve.json").read_text())
    at = {(r["rule"], r["examples"]): r for r in curve["summary"]}
    ci = lambda r: f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"  # noqa: E731
    ratio = next(g for g in curve["gain"] if g["window"] == [64, 256])["ratio"]
    readme = " ".join(README.split())
    assert f"to {ci(at[('likra', 1024)])} acc_norm after 1024 examples" in readme
    assert f"SFT reaches {ci(at[('sft', 1024)])}" in readme
    assert f"{ratio['mean']:.1f}x [{ratio['low']:.1f}, {ratio['high']:.1f}]" in readme
    from likra.experiments.claims import difference

    _, (m, lo, hi), _ = difference(curve, 1024, {"rule": "likra"}, {"rule": "sft"})
    assert f"Likra - SFT: {m:+.3f}, [{lo:.3f}, {hi:.3f}] when the interval also counts which 500 questions" in readme
    full = json.loads((RESULTS.parent / "results" / "curve-smollm2-arc" / "curve.json").read_text())
    end = {r["rule"]: r for r in full["summary"] if r["examples"] == 6604}
    assert f"(6604 questions per head, three seeds) Likra reaches {end['likra']['mean']:.3f}" in readme
    assert f"against SFT's {end['sft']['mean']:.3f}" in readme and end["likra"]["seeds"] == 3
    _, (m, lo, hi), _ = difference(full, 6604, {"rule": "likra"}, {"rule": "sft"})
    assert (f"against SFT's {end['sft']['mean']:.3f} (Likra - SFT: {m:+.3f}, [{lo:.3f}, {hi:.3f}] "
            "with questions)" in readme)


def test_readme_gemma_sentence_is_the_committed_record():
    import json

    from likra.experiments.claims import difference

    gemma = json.loads((RESULTS.parent / "results" / "gemma3-arc-1024" / "curve.json").read_text())
    end = {r["rule"]: r for r in gemma["summary"] if r["examples"] == 1024}
    _, (m, lo, hi), _ = difference(gemma, 1024, {"rule": "likra"}, {"rule": "sft"})
    readme = " ".join(README.split())
    assert f"(pretrained only; 1024 examples per head, {SEED_WORDS[len(gemma['seeds'])]}), Likra reaches " \
           f"{end['likra']['mean']:.3f} against SFT's {end['sft']['mean']:.3f} (Likra - SFT: {m:+.3f}, " \
           f"[{lo:.3f}, {hi:.3f}] with questions)" in readme


def test_readme_kinds_and_objectives_sentences_are_the_committed_records():
    import json

    from likra.experiments.claims import difference

    folder = RESULTS.parent / "results" / "smollm2-arc-1024"
    readme = " ".join(README.split())
    neg = json.loads((folder / "negatives.json").read_text())
    _, (m, lo, hi), _ = difference(neg, 1024, {"kind": "near-miss", "rule": "likra"},
                                   {"kind": "irrelevant", "rule": "likra"})
    assert (f"near-miss negatives teach more than irrelevant ones ({m:+.3f}, [{lo:.3f}, {hi:.3f}] "
            "with questions)" in readme)
    obj = json.loads((folder / "objectives.json").read_text())
    end = {r["method"]: r["mean"] for r in obj["summary"] if r["examples"] == 1024}
    runs = {r["seeds"] for r in obj["summary"] if r["examples"] == 1024}  # seeds per method
    assert f"({({1: 'seed 0 so far', 2: 'seeds 0-1 so far', 3: 'three seeds'})[min(runs)]})" in readme
    assert f"none comes near Likra's {end['Likra']:.3f} at 1024" in readme
    assert (f"DPO reaches {end['dpo (reward)']:.3f}, KTO {end['kto (reward)']:.3f} and InfoNCA "
            f"{end['infonca (reward)']:.3f}") in readme
    assert f"stay level with SFT ({end['SFT']:.3f})" in readme


def test_readme_claim_f_sentence_is_the_committed_mass_record():
    record, verdict, diff, both = claim_f("smollm2-arc-1024")
    readme = " ".join(README.split())
    assert (f"(claim f, {verdict.status}: difference {diff}, {both} with questions, "
            f"{len(record['seeds'])} seeds)" in readme)


def test_readme_full_set_claim_f_is_the_committed_mass_record():
    record, _, diff, both = claim_f("curve-smollm2-arc")
    seeds = listed([str(s) for s in sorted(record["seeds"])])  # "0 and 2", "0, 1 and 2"
    readme = " ".join(README.split())
    assert f"(claim f: {diff}, {both} with questions, seeds {seeds})" in readme


CLAIMS = ("smollm2-arc-1024", "smollm2-winogrande-1024", "curve-smollm2-arc", "gemma3-arc-1024", "curve-gemma3-arc")


@pytest.mark.parametrize("name", CLAIMS)
def test_results_verdicts_are_what_likra_experiment_claims_prints_from_the_committed_records(name):
    from likra.experiments.claims import judge_all, markdown

    folder = RESULTS.parent / "results" / name
    if not (folder / "curve.json").exists():
        pytest.skip("no committed experiment records")
    text = RESULTS.read_text(encoding="utf-8")
    block = text.split(f"<!-- claims:{name} -->\n", 1)[1].split("<!-- /claims -->", 1)[0]
    assert block == markdown(judge_all(folder))


def test_results_table_1_is_what_likra_experiment_table_computes_from_the_committed_curves():
    from likra.config import ExperimentConfig
    from likra.experiments import table
    from likra.experiments.session import Session

    rows = table.collect(Session(ExperimentConfig(), RESULTS.parent / "results"))  # docs/results/*/curve.json
    assert {r["setting"] for r in rows} >= set(CLAIMS)
    assert table.markdown(rows).strip() in RESULTS.read_text(encoding="utf-8")


def test_results_tables_are_rendered_from_the_committed_records():
    """Every `<!-- record:... -->` and `<!-- claims:... -->` block of RESULTS.md is what
    `python -m likra.experiments.markdown docs/RESULTS.md` renders from docs/results/ (no hand copies)."""
    from likra.experiments.markdown import BLOCK, refresh

    text = RESULTS.read_text(encoding="utf-8")
    blocks = [m["path"] for m in BLOCK.finditer(text)]
    assert {"smollm2-arc-1024/curve", "smollm2-arc-1024/negatives", "smollm2-arc-1024/mass",
            "smollm2-arc-1024/objectives", "smollm2-winogrande-1024/curve"} <= set(blocks)
    assert refresh(text, RESULTS.parent / "results") == text


VERIFY_LABELS = {"base": "base", "pmi": "PMI", "sft": "SFT", "likra": "Likra", "base-likra": "Base-Likra"}


@pytest.mark.parametrize("folder", sorted(p.name for p in (RESULTS.parent / "results").glob("verify-*")))
def test_results_verification_tables_are_the_committed_reports(folder):
    """Each Verification table of RESULTS.md is its committed verify.json, row for row (bold aside)."""
    import json

    results = json.loads((RESULTS.parent / "results" / folder / "verify.json").read_text(encoding="utf-8"))["results"]
    rows = []
    for rule, label in VERIFY_LABELS.items():
        m = results[rule]
        c, flag = m["calibration"], m["calibration"]["flag"]
        rows.append(f"| {label} | {m['auroc']:.3f} | {m['mc1']:.3f} | {m['mc2']:.3f} | {c['ece']:.3f} | "
                    f"{c['threshold']:.3f} | {flag['precision']:.3f} | {flag['recall']:.3f} |")
    text = RESULTS.read_text(encoding="utf-8").replace("**", "")
    assert f"results/{folder}/" in text
    assert "\n".join(rows) in text


def _mined(folder):
    """The committed kinds record's mined row at the end, against SFT and near-miss, as RESULTS and the
    README print them."""
    import json

    from likra.experiments.claims import difference

    neg = json.loads((folder / "negatives.json").read_text())
    end = next(r for r in neg["summary"] if r["kind"] == "mined" and r["rule"] == "likra" and r["examples"] == 1024)
    sft = difference(neg, 1024, {"kind": "mined", "rule": "likra"}, {"rule": "sft"})
    near = difference(neg, 1024, {"kind": "mined", "rule": "likra"}, {"kind": "near-miss", "rule": "likra"})
    return neg, end, sft, near


def test_results_and_readme_mined_sentences_are_the_committed_records():
    import json

    folder = RESULTS.parent / "results" / "smollm2-arc-1024"
    neg, end, ((m, slo, shi), (_, lo, hi), _), (_, (n, nlo, nhi), _) = _mined(folder)
    results = " ".join(RESULTS.read_text(encoding="utf-8").split())
    readme = " ".join(README.split())
    assert end["seeds"] == 3 and "## Negatives mined from the model's own answers (issue 15; seeds 0-2)" in results
    assert (f"then {end['mean']:.3f} [{end['low']:.3f}, {end['high']:.3f}] at the end, level with SFT ({m:.3f} "
            f"[{slo:.3f}, {shi:.3f}] across seeds, [{lo:.3f}, {hi:.3f}] with questions") in results
    assert f"below curated near-misses ({n:.3f}, [{nlo:.3f}, {nhi:.3f}] with questions)" in results
    assert (f"reaches {end['mean']:.3f} at 1024, level with SFT ({m:.3f}, [{lo:.3f}, {hi:.3f}] with questions, "
            f"three seeds) and below curated near-misses ({n:.3f}, [{nlo:.3f}, {nhi:.3f}])") in readme
    for seed in neg["seeds"]:  # the mining table: each seed's report
        r = json.loads((folder / "mined" / f"seed-{seed}.report.json").read_text())
        assert (f"| {seed} | {r['with_negatives']} of {r['questions']} | {r['generations']} | {r['correct']} | "
                f"{r['wrong']} | {r['unjudged']} |") in results
