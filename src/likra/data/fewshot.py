"""Few-shot contexts in the manner of lm-evaluation-harness.

lm-eval builds a prompt as `description + examples + question`, each example being the example's
prompt, the target delimiter and its gold answer, each followed by "\\n\\n". Its ContextSampler keeps
one `random.Random(seed)` per task (seed 1234 by default) and, for every document in order, draws
`rnd.sample(docs, k + 1)` when the few-shot split is the evaluation split (else k), drops the
document itself and keeps the first k. MMLU uses the 'first_n' sampler: the first k dev examples.

Here:
- `fewshot_contexts(questions, pool, k, seed)` does exactly that, in order, with one generator per
  task: given the same pool order and question order it picks lm-eval's examples.
- `fewshot_context(question, pool, k, seed)` is the stateless version for one question. It differs
  from lm-eval in one way: its generator is seeded by (seed, question id) instead of being shared
  and advanced across questions, so a question's examples do not depend on which questions came
  before it (a shared generator would make them depend on order and subsetting).
- "Same split" is decided by the question being in the pool (by id) rather than by split names.
- lm-eval's tasks are per subject for MMLU; here the pool is restricted to questions with the
  question's `description` (MMLU's subject line; '' for most benchmarks), which is the same thing.
- The prefix goes after the question's description (`with_fewshot`), as lm-eval places it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Sequence

from likra.data.questions import DataError, Question

SAMPLERS = ("default", "first_n")
DEFAULT_SEED = 1234  # lm-eval's default fewshot_random_seed
FEWSHOT_DELIMITER = "\n\n"


def fewshot_context(
    question: Question, pool: Sequence[Question], k: int, seed: int = DEFAULT_SEED, sampler: str = "default"
) -> str:
    """k solved examples from `pool` (never `question` itself), each followed by a blank line;
    "" for k=0. Prepend it to the question's context(s) with `with_fewshot`."""
    if k == 0:
        return ""
    rng = random.Random(f"{seed}:{question.id}")  # str seeds hash stably across runs (sha512)
    return _context(question, _group(question, pool), k, rng, sampler)


def fewshot_contexts(
    questions: Sequence[Question], pool: Sequence[Question], k: int, seed: int = DEFAULT_SEED,
    sampler: str = "default", spare: bool = False,
) -> list[str]:
    """Few-shot prefixes for `questions` in order, drawn the way lm-eval draws them: one
    generator per task (per description group), advanced question by question. `spare`: always
    draw k + 1 and keep k (the benchmark's `fewshot_spare`, lm-eval's quirk)."""
    if k == 0:
        return [""] * len(questions)
    rngs: dict[str, random.Random] = {}
    out = []
    for q in questions:
        rng = rngs.setdefault(q.description, random.Random(seed))
        out.append(_context(q, _group(q, pool), k, rng, sampler, spare))
    return out


def with_fewshot(question: Question, prefix: str) -> Question:
    """The question with `prefix` put before its context(s), after its description."""
    if not prefix:
        return question
    d = question.description

    def add(ctx: str) -> str:
        return d + prefix + ctx[len(d):]

    contexts = None if question.choice_contexts is None else tuple(add(c) for c in question.choice_contexts)
    return replace(question, context=add(question.context), choice_contexts=contexts)


def _group(question: Question, pool: Sequence[Question]) -> list[Question]:
    # Same description = same lm-eval task (MMLU subject); for other benchmarks it is all of them.
    return [p for p in pool if p.description == question.description]


def _context(
    question: Question, pool: list[Question], k: int, rng: random.Random, sampler: str, spare: bool = False
) -> str:
    if k < 0:
        raise DataError(f"k must be >= 0, got {k}")
    if sampler not in SAMPLERS:
        raise DataError(f"unknown sampler {sampler!r}; samplers: {', '.join(SAMPLERS)}")
    in_pool = any(_same(p, question) for p in pool)
    n = k + 1 if in_pool or spare else k  # one spare, to drop the question itself (lm-eval does the same)
    if n > len(pool):
        raise DataError(f"question {question.id}: pool has {len(pool)} candidate examples, need {n} for k={k}")
    drawn = pool[:n] if sampler == "first_n" else rng.sample(pool, n)
    chosen = [p for p in drawn if not _same(p, question)][:k]
    return "".join(p.fewshot_text() + FEWSHOT_DELIMITER for p in chosen)


def _same(a: Question, b: Question) -> bool:
    return a.id == b.id and a.benchmark == b.benchmark
