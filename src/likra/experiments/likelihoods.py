"""`likelihoods` (the paper's Fig 2): per-character log-likelihood of the correct answer and of the
most likely incorrect answer (the wrong choice the head itself likes best) on the test questions,
along training, for the positive and the negative head; from `curve`'s score tables."""

from __future__ import annotations

from likra.experiments.plots import draw_band, panels, save, band_label
from likra.experiments.session import Session, short
from likra.scoring.rules import choice_scores
from likra.scoring.table import ScoreTable

HEADS = {"pos": "sft", "neg": "neg", "base": "base"}  # head -> the rule that reads it alone


def mean_likelihoods(table: ScoreTable, head: str, checkpoint: str | None) -> tuple[float, float]:
    """Mean over questions of the per-character log-likelihood of the gold answer and of the most
    likely wrong answer, under `head`."""
    per_q = choice_scores(table, HEADS[head], 1.0, "char", checkpoint).values()
    gold = [scores[g] for scores, g in per_q]
    wrong = [max(x for i, x in enumerate(scores) if i != g) for scores, g in per_q]
    return sum(gold) / len(gold), sum(wrong) / len(wrong)


def rows_for(table: ScoreTable, seed: int) -> list[dict]:
    rows = []
    base_gold, base_wrong = mean_likelihoods(table, "base", None)
    for head in ("pos", "neg"):
        rows.append({"seed": seed, "head": head, "examples": 0, "answer": "correct", "loglik": base_gold})
        rows.append({"seed": seed, "head": head, "examples": 0, "answer": "most likely incorrect",
                     "loglik": base_wrong})
        for cp in table.checkpoints:
            gold, wrong = mean_likelihoods(table, head, cp)
            rows.append({"seed": seed, "head": head, "examples": int(cp), "answer": "correct", "loglik": gold})
            rows.append({"seed": seed, "head": head, "examples": int(cp), "answer": "most likely incorrect",
                         "loglik": wrong})
    return rows


def run(s: Session) -> dict:
    rows = []
    for seed in s.cfg.seeds:
        with s.unit(f"seed {seed}"):
            rows += rows_for(s.evaluate(s.train(seed)), seed)
    rows, _, summary = s.summarise(rows, {}, ("head", "answer", "examples"), "loglik")
    record = s.write("likelihoods", rows, summary)
    s.draw(plot, summary)
    return record


def plot(summary: list[dict], s: Session) -> None:
    fig, axes = panels(2, f"{short(s.cfg.model)}: per-character log-likelihood on "
                          f"{s.cfg.eval_benchmark} {s.cfg.eval_split} "
                          f"along training ({band_label(summary)}; 0 examples = base model at x=1/2)")
    for ax, head in zip(axes, ("pos", "neg")):
        for answer, colour in (("correct", "#2ca02c"), ("most likely incorrect", "#d62728")):
            points = [{"x": r["examples"] or 0.5, **r} for r in summary if (r["head"], r["answer"]) == (head, answer)]
            draw_band(ax, points, answer, colour)
        ax.set_title({"pos": "positive head", "neg": "negative head"}[head], fontsize=9)
        ax.set_xlabel("training examples (log2)")
        ax.set_ylabel("mean log-likelihood per character")
        ax.legend(fontsize=8)
    save(fig, s.out / "likelihoods.png")
