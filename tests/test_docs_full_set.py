"""RESULTS' and README's hand-written prose on the full training sets (SmolLM2 and Gemma) quotes the
committed records: kinds of negatives, claim (f), and each seed's figures."""

from __future__ import annotations

import pytest

from tests.docs_text import NUMBERS, README, RESULTS, SEED_WORDS, claim_f, committed, flat, listed, results_text


def full_set_kinds() -> dict:
    """The committed kinds-of-negatives record of the full training set."""
    return committed("curve-smollm2-arc", "negatives")


def test_results_full_set_kinds_bullets_are_the_committed_record():
    """The hand-written bullets on the full set's kinds of negatives quote the committed record: each
    kind's mean and per-seed accuracy at the end, and the differences with their intervals."""
    from likra.experiments.claims import difference

    rec = full_set_kinds()
    end = max(r["examples"] for r in rec["rows"])
    mean = {r["kind"]: r["mean"] for r in rec["summary"] if r["examples"] == end and r["rule"] == "likra"}
    sft = next(r["mean"] for r in rec["summary"] if r["examples"] == end and r["rule"] == "sft")
    per_seed = lambda kind: {r["seed"]: r["accuracy"] for r in rec["rows"]  # noqa: E731
                             if r["examples"] == end and r["rule"] == "likra" and r["kind"] == kind}

    def quoted(kind: str) -> str:  # "0.465 (0.470, 0.470 and 0.456)"
        return f"{mean[kind]:.3f} ({listed([f'{v:.3f}' for _, v in sorted(per_seed(kind).items())])})"

    results = results_text()
    assert (f"At {end} examples near-miss reaches {quoted('near-miss')}, irrelevant {quoted('irrelevant')} and "
            f"unrelated {quoted('unrelated')}, against SFT's {sft:.3f}.") in results
    near, irr = per_seed("near-miss"), per_seed("irrelevant")
    (m, _, _), (_, lo, hi), _ = difference(rec, end, {"kind": "near-miss"}, {"kind": "irrelevant"}, rule="likra")
    each = listed([f"{near[s] - irr[s]:+.3f}" for s in sorted(irr)])
    assert f"Near-miss - irrelevant is {m:+.3f} ({each}), [{lo:.3f}, {hi:.3f}] with questions." in results
    (m, _, _), (_, lo, hi), _ = difference(rec, end, {"kind": "irrelevant"}, {"kind": "unrelated"}, rule="likra")
    assert f"Irrelevant - unrelated is {m:+.3f}, [{lo:.3f}, {hi:.3f}] with questions" in results
    for kind, words in (("hardest", "The hardest near-miss is no better than a random one, with the full set too"),
                        ("easiest", "Nor is the easiest worse by a measurable margin:")):
        _, (m, lo, hi), _ = difference(rec, end, {"kind": kind}, {"kind": "near-miss"}, rule="likra")
        assert words in results and f"{m:+.3f}, [{lo:.3f}, {hi:.3f}] with questions" in results, kind
    seeds = listed([str(s) for s in sorted(per_seed("hardest"))])
    assert f"The hardest near-miss is no better than a random one, with the full set too** (seeds {seeds})" in results


def test_readme_full_set_kinds_sentence_is_the_committed_record():
    from likra.experiments.claims import difference

    rec = full_set_kinds()
    _, (m, lo, hi), _ = difference(rec, 6604, {"kind": "near-miss"}, {"kind": "irrelevant"}, rule="likra")
    seeds = {r["seed"] for r in rec["rows"] if r["kind"] == "irrelevant"}
    readme = flat(README)
    assert (f"near-miss negatives again teach more than irrelevant ones ({m:+.3f}, [{lo:.3f}, {hi:.3f}] with "
            f"questions, {SEED_WORDS[len(seeds)]})") in readme


FULL_SET_MASS = {"curve-smollm2-arc": "### Where each head moves the answers with the full training set",
                 "curve-gemma3-arc": "## Gemma-3-270M, ARC, the full training set"}


def mass_section(folder: str) -> str:
    """RESULTS' text (flattened) from FOLDER's full-set mass heading to the next section."""
    return flat(RESULTS.read_text(encoding="utf-8").split(FULL_SET_MASS[folder], 1)[1].split("\n## ", 1)[0])


@pytest.mark.parametrize("folder", FULL_SET_MASS)
def test_results_full_set_mass_bullet_is_the_committed_record(folder):
    """The hand-written bullet on claim (f) with the full set quotes the committed mass record: each head's
    change of the correct and the most likely wrong answer at the end, the difference of the separations
    with its interval counting the questions, that difference per seed, and the verdict."""
    import statistics

    if not (RESULTS.parent / "results" / folder / "mass.json").exists():
        pytest.skip(f"no committed mass record in {folder} yet")
    record, verdict, diff, both = claim_f(folder)
    end = max(r["examples"] for r in record["summary"])
    mean = {(r["head"], r["answer"]): r["mean"] for r in record["summary"] if r["examples"] == end}
    section = mass_section(folder)
    assert (f"the positive head raises the correct answer by {mean['pos', 'correct']:.3f} per character and the "
            f"most likely wrong one by {mean['pos', 'most likely incorrect']:.3f}. The negative head, trained on "
            f"wrong answers only, raises them by {mean['neg', 'correct']:.3f} and "
            f"{mean['neg', 'most likely incorrect']:.3f}.") in section
    each = {e["seed"]: statistics.mean(e["values"]) for e in record["questions"]["separation"] if e["examples"] == end}
    seeds = ("seeds " if len(each) > 1 else "seed ") + listed([str(s) for s in sorted(each)])
    per_seed = listed([f"{each[s]:.3f}" for s in sorted(each)])
    assert f"their difference is {diff}, {both} counting the questions ({per_seed} in {seeds})" in section
    assert f"Claim (f) is *{verdict.status}*." in section


def test_readme_gemma_full_set_sentence_is_the_committed_record():
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "curve")
    end = max(r["examples"] for r in rec["summary"])
    mean = {r["rule"]: r["mean"] for r in rec["summary"] if r["examples"] == end}
    _, (m, lo, hi), _ = difference(rec, end, {"rule": "likra"}, {"rule": "sft"})
    one = len(rec["seeds"]) == 1
    seeds = f"seed {rec['seeds'][0]} so far" if one else f"seeds {listed([str(s) for s in rec['seeds']])}"
    readme = flat(README)
    assert (f"With Gemma's full training set ({seeds}) Likra reaches {mean['likra']:.3f} against SFT's "
            f"{mean['sft']:.3f} ({m:+.3f}, [{lo:.3f}, {hi:.3f}]") in readme


def likra_at_end(rec: dict) -> tuple[int, dict]:
    """A negatives record's last checkpoint, and Likra's accuracy there by (seed, kind)."""
    end = max(r["examples"] for r in rec["rows"])
    acc = {(r["seed"], r["kind"]): r["accuracy"] for r in rec["rows"] if r["examples"] == end and r["rule"] == "likra"}
    return end, acc


def against(acc: dict, seeds: list, kinds: tuple, labels: tuple, diff: tuple) -> str:
    """'{kind's mean} ({each seed's}) against {other's label} {other's mean} in those seeds ({difference's label}
    {m}, [lo, hi] across the N seeds, [qlo, qhi] with the questions)': a kind's end accuracy over several seeds
    against another's, as RESULTS' Gemma full-set bullets quote it. `kinds`: (kind, other), keys of `acc` with
    the seed; `labels`: (other's, the difference's); `diff`: (m, lo, hi, qlo, qhi)."""
    (kind, other), (named, differs), (m, lo, hi, qlo, qhi) = kinds, labels, diff
    mean = lambda k: sum(acc[s, k] for s in seeds) / len(seeds)  # noqa: E731
    each = listed([f"{acc[s, kind]:.3f}" for s in seeds])
    return (f"{mean(kind):.3f} ({each}) against {named} {mean(other):.3f} in those seeds ({differs} {m:+.3f}, "
            f"[{lo:.3f}, {hi:.3f}] across the {NUMBERS[len(seeds)]} seeds, [{qlo:.3f}, {qhi:.3f}] with the questions)")


def test_results_gemma_unrelated_bullet_is_the_committed_record():
    """The Gemma full-set bullet on unrelated negatives quotes the committed negatives record: the end accuracy
    over the seeds that hold it, each seed's against irrelevant's in those seeds, and
    irrelevant - unrelated across the seeds and with the questions."""
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "negatives")
    end, acc = likra_at_end(rec)
    seeds = sorted(s for s, k in acc if k == "unrelated")
    (m, lo, hi), (_, qlo, qhi), _ = difference(rec, end, {"kind": "irrelevant"}, {"kind": "unrelated"}, rule="likra")
    results = results_text()
    assert "end at " + against(acc, seeds, ("unrelated", "irrelevant"), ("irrelevant's", "irrelevant - unrelated"),
                               (m, lo, hi, qlo, qhi)) in results


def test_results_gemma_full_set_bullet_quotes_each_seed():
    """The Gemma full-set Likra-vs-SFT bullet names every committed seed's end difference, in seed order."""
    rec = committed("curve-gemma3-arc", "curve")
    end = max(r["examples"] for r in rec["summary"])
    acc = {(r["seed"], r["rule"]): r["accuracy"] for r in rec["rows"] if r["examples"] == end}
    per_seed = ", ".join(f"seed {s} {acc[(s, 'likra')] - acc[(s, 'sft')]:+.3f}" for s in rec["seeds"])
    results = results_text()
    assert f"({per_seed})" in results


def test_results_gemma_full_set_bullet_states_the_claims_verdict():
    """The Gemma full-set Likra-vs-SFT bullet quotes the mean difference, its interval across seeds and with
    questions, and claim (a)'s verdict as `likra experiment claims` wrote them."""
    import json

    from likra.experiments.claims import difference

    folder = RESULTS.parent / "results" / "curve-gemma3-arc"
    rec = committed("curve-gemma3-arc", "curve")
    end = max(r["examples"] for r in rec["summary"])
    (m, lo, hi), (_, qlo, qhi), _ = difference(rec, end, {"rule": "likra"}, {"rule": "sft"})
    verdict = next(v for v in json.loads((folder / "claims.json").read_text())["verdicts"] if v["claim"] == "a")
    results = results_text()
    assert (f"{m:+.3f} (seed 0 ") in results
    assert (f"[{lo:.3f}, {hi:.3f}] across the {NUMBERS[len(rec['seeds'])]} seeds, [{qlo:.3f}, {qhi:.3f}] with the "
            f"questions: claim (a) *{verdict['status']}*") in results


def test_gemma_full_set_kinds_and_mass_sentences_are_the_committed_records():
    """README's Gemma full-set sentence and RESULTS' bullet quote near-miss - irrelevant (mean, per seed, across
    seeds, with questions) and claim (f)'s difference from the committed records."""
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "negatives")
    end, acc = likra_at_end(rec)
    (m, lo, hi), (_, qlo, qhi), _ = difference(rec, end, {"kind": "near-miss"}, {"kind": "irrelevant"}, rule="likra")
    seeds = sorted(s for s, k in acc if k == "irrelevant")
    each = listed([f"{acc[s, 'near-miss'] - acc[s, 'irrelevant']:+.3f}" for s in seeds])
    readme = flat(README)
    assert (f"near-miss negatives teach more than irrelevant ones there too ({m:+.3f}, [{qlo:.3f}, {qhi:.3f}] with "
            f"questions, {SEED_WORDS[len(seeds)]})") in readme
    results = results_text()
    assert (f"near-miss {m:.3f} above it ({each}; [{lo:.3f}, {hi:.3f}] across the {NUMBERS[len(seeds)]} seeds, "
            f"[{qlo:.3f}, {qhi:.3f}] with the questions)") in results
    mass, _, diff, both = claim_f("curve-gemma3-arc")
    names = listed([str(s) for s in mass["seeds"]])
    seeds = f"seed {names} so far" if len(mass["seeds"]) == 1 else f"seeds {names}"
    assert f"(claim f: {diff}, {both} over the questions, {seeds})" in readme


@pytest.mark.parametrize("kind", ["hardest", "easiest"])
def test_results_gemma_full_set_hardest_bullet_is_the_committed_record(kind):
    """The Gemma full-set bullet on the hardest and easiest near-misses quotes the committed negatives record: each
    kind's end accuracy over the seeds that hold it against the random near-miss's, and its difference across the
    seeds and with the questions."""
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "negatives")
    end, acc = likra_at_end(rec)
    seeds = sorted(s for s, k in acc if k == kind)
    (m, lo, hi), (_, qlo, qhi), _ = difference(rec, end, {"kind": kind}, {"kind": "near-miss"}, rule="likra")
    results = results_text()
    assert "ends at " + against(acc, seeds, (kind, "near-miss"), ("the random near-miss's", f"{kind} - random"),
                                (m, lo, hi, qlo, qhi)) in results


def test_results_gemma_full_set_mass_irrelevant_and_seeds_are_the_committed_record():
    """The Gemma full-set `mass` section names the seeds its record holds (heading and bullet), each head's
    separation at the end (the correct answer's change minus the most likely wrong one's), and how the two heads
    move other questions' answers (the positive head's mean, the negative head's with its interval)."""
    record = committed("curve-gemma3-arc", "mass")
    end = max(r["examples"] for r in record["summary"])
    at = {(r["head"], r["answer"]): r for r in record["summary"] if r["examples"] == end}
    seeds = listed([str(s) for s in record["seeds"]])
    section = mass_section("curve-gemma3-arc")
    assert f"**Where each head moves the answers with the full set (claim f; seeds {seeds})**" in section
    bullet = "**The negative head does not lower the plausible wrong answers with the full set either**"
    assert f"{bullet} (seeds {seeds})" in section
    wrong = "most likely incorrect"
    sep = [at[h, "correct"]["mean"] - at[h, wrong]["mean"] for h in ("pos", "neg")]
    assert f"both heads favour the correct answer (by {sep[0]:.3f} and {sep[1]:.3f} on average)" in section
    pos, neg = at["pos", "irrelevant"], at["neg", "irrelevant"]
    assert (f"the positive head lowers other questions' answers ({pos['mean']:+.3f} at {end}), the negative head "
            f"raises them ({neg['mean']:+.3f}, [{neg['low']:+.3f}, {neg['high']:+.3f}] across the seeds)") in section


def test_results_gemma_full_set_kinds_level_with_sft_are_the_committed_record():
    """The Gemma full-set bullet on kinds of negatives quotes SFT's end accuracy per seed (where irrelevant and
    unrelated are level with it) and unrelated - SFT with the questions, from the committed negatives record."""
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "negatives")
    end = max(r["examples"] for r in rec["rows"])
    sft = {r["seed"]: r["accuracy"] for r in rec["rows"] if r["examples"] == end and r["rule"] == "sft"}
    each = listed([f"{sft[s]:.3f}" for s in sorted(sft)])
    _, (m, qlo, qhi), _ = difference(rec, end, {"kind": "unrelated", "rule": "likra"}, {"kind": "sft", "rule": "sft"})
    irr = {r["seed"]: r["accuracy"] for r in rec["rows"]
           if r["examples"] == end and r["rule"] == "likra" and r["kind"] == "irrelevant"}
    below = listed([str(s) for s in sorted(irr) if irr[s] < sft[s]])
    results = results_text()
    assert f"level with SFT ({each}: in seed {below} below it)" in results
    assert f"level with SFT ({each}; unrelated - SFT {m:+.3f}, [{qlo:.3f}, {qhi:.3f}] with the questions)" in results


def test_results_gemma_full_set_easiest_under_hardest_is_the_committed_record():
    """The same bullet quotes easiest against hardest, paired in the seeds that hold both: how far under, across
    those seeds and with the questions."""
    from likra.experiments.claims import difference

    rec = committed("curve-gemma3-arc", "negatives")
    end = max(r["examples"] for r in rec["rows"])
    (m, lo, hi), (_, qlo, qhi), _ = difference(rec, end, {"kind": "hardest"}, {"kind": "easiest"}, rule="likra")
    results = results_text()
    assert (f"and {m:.3f} under the hardest in those seeds ([{lo:.3f}, {hi:.3f}] across them, [{qlo:.3f}, "
            f"{qhi:.3f}] with the questions)") in results


def test_gemma_full_set_heading_names_the_seeds_every_record_holds():
    """The Gemma full-set section's heading names the seeds that every one of its records holds, for every kind
    of negative too: a record that lags behind the others would make the heading overstate it."""
    held = []
    for name in ("curve", "weights", "likelihoods", "negatives", "mass"):
        rec = committed("curve-gemma3-arc", name)
        kinds = {r.get("kind") for r in rec["rows"]}
        held += [sorted({r["seed"] for r in rec["rows"] if r.get("kind") == k}) for k in kinds]
    common = sorted(set.intersection(*map(set, held)))
    assert all(h == common for h in held), held
    seeds = f"seeds {common[0]}-{common[-1]}" if len(common) > 2 else f"seeds {listed([str(s) for s in common])}"
    assert f"## Gemma-3-270M, ARC, the full training set (6604 questions per head; {seeds})" in RESULTS.read_text(
        encoding="utf-8")


def test_results_gemma_full_set_hardest_bullet_along_the_way_is_the_committed_record():
    """Each "seed S: a against b at N, ..." the hardest/easiest bullet quotes along training is that seed's Likra
    accuracy with that kind (a) and with the random near-miss (b) at N examples in the committed record."""
    import re

    rec = committed("curve-gemma3-arc", "negatives")
    acc = {(r["seed"], r["kind"], r["examples"]): r["accuracy"] for r in rec["rows"] if r["rule"] == "likra"}
    results = results_text()
    bullet = results.split("**The hardest and easiest near-misses at seeds", 1)[1].split("Mean per-character", 1)[0]
    hardest, easiest = bullet.split("Likra on the easiest wrong choice", 1)
    pair = r"(\d\.\d{3}) against (\d\.\d{3}) at (\d+)"
    quoted = 0
    for kind, text in (("hardest", hardest), ("easiest", easiest)):
        for m in re.finditer(rf"seed (\d): ((?:{pair}(?:, |; | and )?)+)", text):
            seed = m[1]
            for a, b, n in re.findall(pair, m[2]):
                assert (acc[int(seed), kind, int(n)], acc[int(seed), "near-miss", int(n)]) == (float(a), float(b)), \
                    (kind, seed, n)
                quoted += 1
    assert quoted >= 10  # the bullet quotes them; a rewording that drops the pattern would pass silently
