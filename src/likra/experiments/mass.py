"""`mass` (the paper's Fig 6): where each head moves probability mass. For every test question, four
answers after its own context: the correct one, the most likely incorrect one (by the base model),
an irrelevant one (another test question's correct answer) and an unrelated one (an answer from
another benchmark). The change of their per-character log-likelihood relative to the base model,
for each head, along training."""

from __future__ import annotations

import random

from likra.data.negatives import borrowed_answer
from likra.data.questions import Question
from likra.experiments.plots import draw_band, panels, save, band_label
from likra.experiments.session import BASE_CACHE, Session, short
from likra.scoring.rules import choice_scores
from likra.scoring.table import ScoreTable

ANSWERS = ("correct", "most likely incorrect", "irrelevant", "unrelated")
COLOURS = ("#2ca02c", "#d62728", "#ff7f0e", "#8c564b")
TABLE = "mass-scores.csv"


def mass_questions(questions: list[Question], base: ScoreTable, unrelated: list[Question], seed: int) -> list[Question]:
    """Each test question with the four kinds of answer as its choices (correct first)."""
    from likra.errors import ConfigError

    if any(q.choice_contexts is not None for q in questions):
        raise ConfigError("mass needs questions whose choices share one context (not Winogrande's partial scoring)")
    scores = {qid: s for (_, qid), (s, _) in choice_scores(base, "base", 1.0, "char").items()}
    rng = random.Random(seed)
    others = list(range(len(questions)))
    rng.shuffle(others)
    out = []
    for i, q in enumerate(questions):
        wrong = max((c for c in range(len(q.choices)) if c != q.gold), key=lambda c: scores[q.id][c])
        other = questions[others[i] if others[i] != i else others[(i + 1) % len(others)]]
        far = rng.choice(unrelated)
        choices = (q.choices[q.gold], q.choices[wrong], other.choices[other.gold], borrowed_answer(far, q))
        out.append(Question(q.id, q.benchmark, q.context, choices, 0, q.target_delimiter, query=q.query,
                            description=q.description))
    return out


def score_mass(s: Session, seed: int, curve_table: ScoreTable) -> ScoreTable:
    """The four answers of every test question under base, pos and neg at every checkpoint: scored once,
    resumed pass by pass when cut off, and scored again whenever what shapes it changes (the answers'
    texts, the heads' weights, the checkpoints, the model)."""
    from likra.data.benchmarks import load_questions
    from likra.evaluate import eval_questions, file_sha, scored_table, table_shape
    from likra.io_utils import atomic_write_json
    from likra.models.likra_model import load_likra

    run = s.run_dir(seed)
    path = run / "eval" / TABLE
    checkpoints = [int(c) for c in curve_table.checkpoints]
    unrelated = list(load_questions(s.cfg.unrelated_benchmark, "all", data_root=s.cfg.data_root).questions)
    ev = s.eval_config()
    questions = mass_questions(eval_questions(ev), curve_table, unrelated, seed)
    likra = load_likra(run_dir=run, checkpoint=None, loaded=s.loaded)
    shape = table_shape(ev, run, checkpoints, likra, questions)
    record = path.with_suffix(".json")
    table = scored_table(likra, questions, checkpoints, likra.engine(progress=s.progress, truncate=True), path, shape,
                         record, reuse_only=s.cfg.finished_only, base_cache=s.out / BASE_CACHE)
    atomic_write_json(record, {"shape": shape, "scores_sha256": file_sha(path)})
    return table


def rows_for(table: ScoreTable, seed: int) -> list[dict]:
    base = {qid: sc for (_, qid), (sc, _) in choice_scores(table, "base", 1.0, "char").items()}
    rows = []
    for head, rule in (("pos", "sft"), ("neg", "neg")):
        for cp in table.checkpoints:
            mine = {qid: sc for (_, qid), (sc, _) in choice_scores(table, rule, 1.0, "char", cp).items()}
            for k, answer in enumerate(ANSWERS):
                delta = [mine[q][k] - base[q][k] for q in mine]
                rows.append({"seed": seed, "head": head, "examples": int(cp), "answer": answer,
                             "delta_loglik": sum(delta) / len(delta)})
    return rows


def separation(table: ScoreTable, checkpoint: str) -> tuple[list[str], list[float]]:
    """Per question at `checkpoint`: the separation the negative head adds (most likely incorrect minus
    correct, relative to base) minus the positive head's (correct minus most likely incorrect): what claim
    (f) averages, kept per question so that its interval can count the questions (claims.judge_f)."""
    base = choice_scores(table, "base", 1.0, "char")
    pos, neg = (choice_scores(table, rule, 1.0, "char", checkpoint) for rule in ("sft", "neg"))
    keys = sorted(base)
    values = []
    for k in keys:
        delta = {name: [x - b for x, b in zip(head[k][0], base[k][0])] for name, head in (("pos", pos), ("neg", neg))}
        values.append((delta["neg"][1] - delta["neg"][0]) - (delta["pos"][0] - delta["pos"][1]))  # 0 correct, 1 wrong
    return ["/".join(k) for k in keys], [round(v, 6) for v in values]


def run(s: Session) -> dict:
    rows, kept = [], {"ids": [], "separation": []}
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed}"):
            table = score_mass(s, seed, s.evaluate(s.train(seed)))
            rows += rows_for(table, seed)
            final = max(table.checkpoints, key=int)
            kept["ids"], values = separation(table, final)
            kept["separation"].append({"seed": seed, "examples": int(final), "values": values})
    rows, extra, summary = s.summarise(rows, {"questions": kept} if kept["ids"] else {},
                                       ("head", "answer", "examples"), "delta_loglik")
    record = s.write("mass", rows, summary, extra)
    s.draw(plot, summary)
    return record


def plot(summary: list[dict], s: Session) -> None:
    fig, axes = panels(2, f"{short(s.cfg.model)}: where each head moves the answers to {s.cfg.eval_benchmark} "
                          f"{s.cfg.eval_split} questions ({band_label(summary)})")
    for ax, head in zip(axes, ("pos", "neg")):
        for answer, colour in zip(ANSWERS, COLOURS):
            points = [{"x": r["examples"], **r} for r in summary if (r["head"], r["answer"]) == (head, answer)]
            draw_band(ax, points, answer, colour)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title({"pos": "positive head", "neg": "negative head"}[head], fontsize=9)
        ax.set_xlabel("training examples (log2)")
        ax.set_ylabel("log-likelihood per character, minus the base model's")
        ax.legend(fontsize=8)
    save(fig, s.out / "mass.png")
