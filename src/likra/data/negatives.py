"""Training pairs for the two heads, and the train/eval leak check. No torch here.

The positive head learns (context, gold answer); the negative head learns (context, wrong answer).
Wrong answers come in four kinds: three from nearest to farthest from the question, and its own:

- near-miss: a wrong choice of the same question (random, or chosen by base-model scores);
- irrelevant: the gold answer of another question of the same benchmark;
- unrelated: the gold answer of a question from another benchmark;
- mined: one of the question's own `negatives` (wrong answers sampled from the base model by
  `likra mine`, or written by hand in a user file), after the gold context.

Everything is seeded: the same seed gives the same pairs, a different seed different ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

from likra.data.benchmarks import family_of
from likra.config import NEAR_MISS_STRATEGIES, NEGATIVE_KINDS
from likra.data.questions import DataError, Question, normalise_text

KINDS = NEGATIVE_KINDS
STRATEGIES = NEAR_MISS_STRATEGIES
MAX_EXAMPLES = 5
_RANDOM_TRIES = 64  # rejection-sampling draws before falling back to a full shuffled scan

T = TypeVar("T")


@dataclass(frozen=True)
class TrainingPair:
    """One (context, answer) example for a head."""

    context: str
    """The context the answer is scored after (`Question.context_for(i)`)."""
    answer: str
    """The continuation, delimiter included (`Question.continuation(i)`)."""
    positive: bool
    """True for the positive head's examples (gold answers)."""
    kind: str
    """'positive', 'near-miss', 'irrelevant', 'unrelated' or 'mined'."""
    source_id: str
    """Id of the question the context came from."""


def positive_pairs(questions: Sequence[Question]) -> list[TrainingPair]:
    """Each question with its gold answer."""
    return [
        TrainingPair(q.context_for(q.gold), q.continuation(q.gold), True, "positive", q.id) for q in questions
    ]


def choice_groups(questions: Sequence[Question]) -> list[tuple[TrainingPair, ...]]:
    """Each question as a group: its gold answer first, then every wrong choice that differs from it
    (what multi-negative objectives such as InfoNCA contrast at once)."""
    groups = []
    for q in questions:
        gold = TrainingPair(q.context_for(q.gold), q.continuation(q.gold), True, "positive", q.id)
        wrong = [TrainingPair(q.context_for(i), q.continuation(i), False, "near-miss", q.id)
                 for i in range(len(q.choices))
                 if i != q.gold and (q.context_for(i), q.continuation(i)) != (gold.context, gold.answer)]
        if not wrong:
            raise DataError(f"question {q.id}: no wrong choice differs from the gold answer", field="choices")
        groups.append((gold, *wrong))
    return groups


def negative_pairs(
    questions: Sequence[Question],
    kind: str,
    seed: int,
    strategy: str = "random",
    choice_scores: dict[str, Sequence[float]] | None = None,
    unrelated_pool: Sequence[Question] | None = None,
    per_question: int = 1,
) -> list[TrainingPair]:
    """`per_question` wrong answers of `kind` for each question (1 balances the positives).

    strategy: near-miss only. 'random', or 'hardest'/'easiest' = the wrong choices the base model
    scores highest/lowest in `choice_scores` (question id -> one score per choice; ties go to the
    lower index). unrelated_pool: the other benchmark's questions, required for 'unrelated'."""
    if kind not in KINDS:
        raise DataError(f"unknown negative kind {kind!r}; kinds: {', '.join(KINDS)}")
    if strategy not in STRATEGIES:
        raise DataError(f"unknown strategy {strategy!r}; strategies: {', '.join(STRATEGIES)}")
    if strategy != "random" and kind != "near-miss":
        raise DataError(f"strategy {strategy!r} only applies to near-miss negatives")
    if per_question < 1:
        raise DataError("per_question must be at least 1")
    rng = random.Random(seed)
    if kind == "mined":
        return [p for q in questions for p in _mined(q, rng, per_question)]
    if kind == "near-miss":
        return [p for q in questions for p in _near_misses(q, rng, strategy, choice_scores, per_question)]
    if kind == "unrelated" and not unrelated_pool:
        raise DataError("unrelated negatives need unrelated_pool: questions of another benchmark")
    pool = list(questions) if kind == "irrelevant" else list(unrelated_pool or ())
    # (question, normalised gold text), computed once: the draws below compare texts many times.
    candidates = [(o, normalise_text(o.choices[o.gold])) for o in pool]
    return [p for q in questions for p in _borrowed(q, candidates, rng, kind, per_question)]


def _near_misses(
    q: Question, rng: random.Random, strategy: str, scores: dict[str, Sequence[float]] | None, n: int
) -> list[TrainingPair]:
    gold_request = (q.context_for(q.gold), q.continuation(q.gold))
    # A wrong choice whose text equals the gold's (datasets have a few) would teach the negative
    # head the right answer, so it is not a near miss.
    wrong = [i for i in range(len(q.choices)) if i != q.gold and (q.context_for(i), q.continuation(i)) != gold_request]
    if not wrong:
        # a free-form question (its answer its only choice) has no near miss; point to its own negatives
        hint = "; it has mined negatives: use negative kind 'mined' (--negatives mined)" if q.negatives else ""
        raise DataError(f"question {q.id}: no wrong choice differs from the gold answer{hint}", field="choices")
    if strategy == "random":
        picked = rng.sample(wrong, min(n, len(wrong)))
    else:
        s = _scores_for(q, scores)
        sign = -1.0 if strategy == "hardest" else 1.0
        picked = sorted(wrong, key=lambda i: (sign * s[i], i))[:n]
    return [TrainingPair(q.context_for(i), q.continuation(i), False, "near-miss", q.id) for i in picked]


def _mined(q: Question, rng: random.Random, n: int) -> list[TrainingPair]:
    """`n` of the question's own negatives (seeded draw), after its gold context, as the gold is."""
    if not q.negatives:
        raise DataError(f"question {q.id}: no mined negatives; negative kind 'mined' needs a 'negatives' list on "
                        "every question (`likra mine` writes them; docs/DATA_FORMAT.md)", field="negatives")
    picked = rng.sample(range(len(q.negatives)), min(n, len(q.negatives)))
    context = q.context_for(q.gold)
    return [TrainingPair(context, q.target_delimiter + q.negatives[i], False, "mined", q.id) for i in picked]


def _scores_for(q: Question, scores: dict[str, Sequence[float]] | None) -> Sequence[float]:
    if scores is None:
        raise DataError("strategies 'hardest'/'easiest' need choice_scores (question id -> score per choice)")
    if q.id not in scores:
        raise DataError(f"no choice scores for question {q.id!r}", field="choice_scores")
    s = scores[q.id]
    if len(s) != len(q.choices):
        raise DataError(f"question {q.id!r}: {len(s)} scores for {len(q.choices)} choices", field="choice_scores")
    return s


def _borrowed(
    q: Question, candidates: list[tuple[Question, str]], rng: random.Random, kind: str, n: int
) -> list[TrainingPair]:
    """Gold answers of other questions, put after this question's gold context."""
    own = {normalise_text(c) for c in q.choices}
    taken: set[str] = set()

    def usable(cand: tuple[Question, str]) -> bool:
        # Never the same question, never a text equal to one of this question's own choices
        # (that would be a near miss or even the right answer), never the same text twice.
        other, text = cand
        same = other.id == q.id and other.benchmark == q.benchmark
        return not same and text not in own and text not in taken

    picked = []
    for _ in range(n):
        cand = _draw(candidates, rng, usable)
        if cand is None:
            if picked:
                break  # fewer than n distinct candidates exist: keep what there is
            raise DataError(
                f"question {q.id}: no {kind} answer available: every candidate equals one of its choices"
                " (lettered formats such as mmlu and commonsense_qa answer with letters only)"
            )
        taken.add(cand[1])
        picked.append(cand[0])
    context = q.context_for(q.gold)
    return [TrainingPair(context, q.target_delimiter + borrowed_answer(o, q), False, kind, q.id) for o in picked]


def borrowed_answer(source: Question, target: Question) -> str:
    """`source`'s gold answer as an answer to `target`. Across benchmarks it is stripped: some keep a
    leading space in their choices (lm-eval's HellaSwag WikiHow endings, about a quarter of them), which
    after `target`'s delimiter would make a double space no answer of `target` has, and a negative head
    would learn that space rather than the answer."""
    text = source.choices[source.gold]
    return text if source.benchmark == target.benchmark else text.strip()


def _draw(pool: list[T], rng: random.Random, usable: Callable[[T], bool]) -> T | None:
    """A random usable pool member: quick rejection sampling, then a seeded full scan."""
    if not pool:
        return None
    for _ in range(_RANDOM_TRIES):
        cand = pool[rng.randrange(len(pool))]
        if usable(cand):
            return cand
    order = list(range(len(pool)))
    rng.shuffle(order)
    return next((pool[i] for i in order if usable(pool[i])), None)


@dataclass
class LeakReport:
    """What the leak check removed from the training questions."""

    n_train: int
    """Training questions checked."""
    n_eval: int
    """Evaluation questions checked against."""
    by_id: int = 0
    """Removed because an eval question of the same benchmark family has the same id."""
    by_text: int = 0
    """Removed (beyond the id matches) because normalised question texts are equal."""
    examples: list[str] = field(default_factory=list)
    """The first few removals, as 'train id -> eval id (reason): text'."""

    @property
    def removed(self) -> int:
        """Training questions removed in all."""
        return self.by_id + self.by_text

    @property
    def kept(self) -> int:
        """Training questions kept."""
        return self.n_train - self.removed

    def __str__(self) -> str:
        lines = [
            f"leak check: {self.n_train} train vs {self.n_eval} eval questions: removed {self.removed} "
            f"({self.by_id} by id, {self.by_text} by text), kept {self.kept}"
        ]
        lines += [f"  e.g. {e}" for e in self.examples]
        return "\n".join(lines)


def exclude_leaks(
    train: Sequence[Question], evaluation: Sequence[Question], match_text: bool = True
) -> tuple[list[Question], LeakReport]:
    """Drop training questions that are evaluation questions: same id within a benchmark family
    (ARC's arc, arc_easy and arc_challenge are one family), or (match_text) equal
    `normalise_text(query)`. Text matching is deliberately coarse: it also catches re-issued exam
    questions under new ids, at the price of a few generic stems ('Which is a chemical change?')."""
    eval_ids = {(family_of(q.benchmark), q.id): q.id for q in evaluation}
    eval_texts = {normalise_text(q.query): q.id for q in evaluation if normalise_text(q.query)}
    report = LeakReport(len(train), len(evaluation))
    kept = []
    for q in train:
        key, text = (family_of(q.benchmark), q.id), normalise_text(q.query)
        if key in eval_ids:
            report.by_id += 1
            _example(report, f"{q.id} -> {eval_ids[key]} (id)")
        elif match_text and text and text in eval_texts:
            report.by_text += 1
            _example(report, f"{q.id} -> {eval_texts[text]} (text): {q.query[:80]}")
        else:
            kept.append(q)
    return kept, report


def _example(report: LeakReport, text: str) -> None:
    # Text matches are the surprising ones, so they are worth the example slots more than ids.
    if len(report.examples) < MAX_EXAMPLES or ("(text)" in text and _drop_id_example(report)):
        report.examples.append(text)


def _drop_id_example(report: LeakReport) -> bool:
    for i, e in enumerate(report.examples):
        if e.endswith("(id)"):
            del report.examples[i]
            return True
    return False


def sample(items: Sequence[T], n: int | None, seed: int) -> list[T]:
    """n items chosen reproducibly (seeded), kept in their original order; all if n is None or
    at least len(items)."""
    items = list(items)
    if n is None or n >= len(items):
        return items
    if n < 0:
        raise DataError(f"cannot sample {n} items")
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]
