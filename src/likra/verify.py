"""The verifier use: rank candidate answers to a question by Likra score, with a probability over them."""

from __future__ import annotations

import math

from likra.errors import ConfigError, DataError, RunStateError
from likra.scoring.rules import NORMS, RULES

ARC_TEMPLATE = "Question: {question}\nAnswer:"


def read_candidates(path: str) -> list[tuple[str, list[str]]]:
    """A JSONL file of {"question": ..., "answers": [...]} per line, checked row by row (file:line:field)
    before any model loads."""
    from likra.data.readers import read_jsonl

    rows, _ = read_jsonl(path)
    if not rows:
        raise DataError("no rows", path=str(path))
    items = []
    for line, row in rows:
        q, answers = row.get("question"), row.get("answers")
        if not isinstance(q, str) or not q.strip():
            raise DataError("missing or empty question", path=str(path), line=line, field="question")
        if not isinstance(answers, list) or not answers or any(not isinstance(a, str) or not a.strip()
                                                               for a in answers):
            raise DataError("expected a non-empty list of non-empty strings", path=str(path), line=line,
                            field="answers")
        items.append((q, answers))
    return items


def candidate_items(input_path: str | None, question: str | None, answers: list[str] | None,
                    command: str) -> list[tuple[str, list[str]]]:
    """The (question, answers) items of `likra score` / `likra verify`: from --input FILE.jsonl, or one
    from --question and --answers."""
    if input_path and (question or answers):
        raise ConfigError(f"{command}: give --question/--answers or --input, not both")
    if input_path:
        return read_candidates(input_path)
    if question and answers:
        return [(question, answers)]
    raise ConfigError(f"{command}: give --question and --answers (one or more), or --input FILE.jsonl")


def softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def score_candidates(likra, question: str, answers: list[str], weight: float = 1.0, norm: str = "char",
                     template: str = ARC_TEMPLATE, rule: str | None = None, progress: bool = False) -> dict:
    """Per-answer log-likelihoods under each head, the rule's score, and softmax probabilities over answers.

    The heads score at the checkpoint `likra` has loaded (load_likra loads 'final' by default); the
    default rule is Likra when both heads are present, else whatever the heads allow.
    """
    if not isinstance(question, str) or not question.strip():
        raise DataError("the question is empty", field="question")
    if not answers or any(not isinstance(a, str) or not a.strip() for a in answers):
        raise DataError("give at least one candidate answer, none empty", field="answers")
    if norm not in NORMS:
        raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if not math.isfinite(weight) or weight < 0:
        raise ConfigError(f"weight must be a finite number >= 0, got {weight!r}")
    if likra.heads and likra.checkpoint is None:
        raise RunStateError("no checkpoint of the heads is loaded: load_likra(..., checkpoint='final') or "
                            "likra.use_checkpoint(N) first")
    heads = ("base",) + tuple(likra.heads)
    if rule is not None and (rule not in RULES or not set(RULES[rule][0]) <= set(heads)):
        raise ConfigError(f"rule {rule!r} is not available with heads {heads}; rules: {', '.join(RULES)}")
    rule = rule or next(r for r in ("likra", "base-likra", "sft", "base") if set(RULES[r][0]) <= set(heads))
    from likra.scoring.engine import Request  # torch: imported when scoring, not with the module

    context = template.format(question=question)
    scored = likra.engine(progress=progress).score_requests([Request(context, " " + a) for a in answers], heads)
    out = []
    for a, per_head in zip(answers, scored):
        lls = {h: per_head[h].loglik for h in heads}
        n_tokens = per_head["base"].n_tokens
        denom = {"none": 1, "char": len(a), "token": n_tokens, "byte": len(a.encode())}[norm]
        score = RULES[rule][1]({h: v / max(denom, 1) for h, v in lls.items()}, weight)
        out.append({"answer": a, "score": score, "loglik": lls, "n_tokens": n_tokens})
    for item, p in zip(out, softmax([o["score"] for o in out])):
        item["probability"] = p
    return {"question": question, "rule": rule, "weight": weight, "norm": norm, "checkpoint": likra.checkpoint,
            "ranking": sorted(range(len(out)), key=lambda i: -out[i]["score"]), "answers": out}
