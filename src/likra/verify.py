"""The verifier use: rank candidate answers to a question by Likra score, with a probability over them."""

from __future__ import annotations

import math

from likra.data.questions import Question
from likra.scoring.rules import RULES

ARC_TEMPLATE = "Question: {question}\nAnswer:"


def softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def score_candidates(likra, question: str, answers: list[str], weight: float = 1.0, norm: str = "char",
                     template: str = ARC_TEMPLATE, rule: str | None = None, progress: bool = False) -> dict:
    """Per-answer log-likelihoods under each head, the rule's score, and softmax probabilities over answers.

    The default rule is Likra when both heads are present, else whatever the heads allow.
    """
    from likra.scoring.engine import EngineConfig, ScoringEngine

    if len(answers) < 1 or any(not a.strip() for a in answers):
        raise ValueError("give at least one non-empty candidate answer")
    heads = ("base",) + tuple(likra.heads)
    rule = rule or next(r for r in ("likra", "base-likra", "sft", "base") if set(RULES[r][0]) <= set(heads))
    q = Question("candidate", "user", template.format(question=question), tuple(answers), 0)
    table = ScoringEngine(likra.model, likra.loaded.tokenizer, likra.loaded.prefix_token_ids,
                          EngineConfig(progress=progress)).score([q], heads, checkpoint="final")
    per = {(r.head, r.choice): r for r in table}
    out = []
    for i, a in enumerate(answers):
        lls = {h: per[(h, i)].logprob for h in heads}
        denom = {"none": 1, "char": len(a), "token": per[("base", i)].n_tokens, "byte": len(a.encode())}[norm]
        score = RULES[rule][1]({h: v / max(denom, 1) for h, v in lls.items()}, weight)
        out.append({"answer": a, "score": score, "loglik": lls, "n_tokens": per[("base", i)].n_tokens})
    for item, p in zip(out, softmax([o["score"] for o in out])):
        item["probability"] = p
    return {"question": question, "rule": rule, "weight": weight, "norm": norm,
            "ranking": sorted(range(len(out)), key=lambda i: -out[i]["score"]), "answers": out}
