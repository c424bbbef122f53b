"""The `mined` kind of the `negatives` experiment (issue 15: does Likra work without curated
distractors?). The negative head trains on wrong answers the base model itself samples for the seed's
own training questions (the curve's, in the same sample), judged against the gold by the `match`
checker: the prompt shows no choices, so answers are free-form; one that equals the gold (after
normalising) is right, one that contains it or is contained in it is unjudged, any other is wrong.
Everything else is the other kinds' (the curve's positive head, seeds, checkpoints, scorer).

A question where no sample was judged wrong has no negative, so the head sees fewer examples than the
curve's; the report beside the file (`seed-S.report.json`) counts them, and curves compare at equal
examples seen. Mining is seeded (`SamplingConfig(seed=S)`) and done once: a rerun reuses the file."""

from __future__ import annotations

from pathlib import Path

from likra.experiments.session import Session, log


def mined_file(s: Session, seed: int) -> Path:
    """OUT/negatives/mined/seed-S.jsonl: the seed's training questions with their mined negatives."""
    from likra.mining.generation import SamplingConfig
    from likra.mining.mine import get_checker, journal_path, mine, question_item, report_path, write_mined
    from likra.pipeline import build_training_data

    path = s.out / "negatives" / "mined" / f"seed-{seed}.jsonl"
    if path.exists() and report_path(path).exists():
        return path
    data = build_training_data(s.train_config(seed).data)  # exactly the questions the curve's heads train on
    items = [question_item(q, s.cfg.benchmark) for q in data.questions]
    log(f"[{path}] mining: {len(items)} questions, checker match")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = mine(s.loaded, items, get_checker("match"), SamplingConfig(seed=seed), progress=s.progress,
                  journal=journal_path(path))  # a stop mid-way resumes: mining 1024 questions takes an hour on a CPU
    write_mined(result, path)
    r = result.report
    log(f"[{path}] {r.with_negatives} of {r.questions} questions have a mined negative ({r.wrong} wrong, "
        f"{r.correct} right, {r.unjudged} unjudged of {r.generations} distinct answers)")
    return path
