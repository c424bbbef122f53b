"""The one type the rest of likra sees of a benchmark: a multiple-choice `Question`.

A question is scored as a set of (context, continuation) requests, one per choice, the way
lm-evaluation-harness does: the continuation is `target_delimiter + choice`. Most benchmarks share
one context across choices; Winogrande's partial scoring gives each choice its own context
(`choice_contexts`) and scores the same continuation after each.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from likra.errors import DataError

__all__ = ["DataError", "Question", "normalise_answer", "normalise_text"]


@dataclass(frozen=True)
class Question:
    """One multiple-choice question, in the prompt format of its benchmark."""

    id: str
    """Unique id within its benchmark (the dataset's own id where it has one)."""
    benchmark: str
    """Registry name of the benchmark it came from, e.g. 'arc_challenge'."""
    context: str
    """Prompt before the answer, e.g. 'Question: ...\\nAnswer:'. Shared by all choices unless
    `choice_contexts` is set."""
    choices: tuple[str, ...]
    """Answer texts without the leading delimiter, e.g. ('7', '8'); per-character normalisation
    counts these characters, like lm-eval's acc_norm."""
    gold: int
    """Index of the correct choice."""
    target_delimiter: str = " "
    """Put between context and choice; the scored continuation is `target_delimiter + choice`."""
    choice_contexts: tuple[str, ...] | None = None
    """Per-choice contexts (Winogrande partial scoring); then `choices` holds per-choice
    continuations (usually all the same)."""
    query: str = ""
    """The bare question text (no template), used to detect train/test leaks."""
    description: str = ""
    """Preamble every context starts with (lm-eval's task `description`, e.g. MMLU's 'The following
    are multiple choice questions (with answers) about anatomy.\n\n'). Already part of `context`;
    few-shot examples go after it, and `fewshot_text` leaves it out so it is not repeated."""
    negatives: tuple[str, ...] = ()
    """Wrong answers of this question from outside its choices, without the delimiter (a user file's
    `negatives`, e.g. written by `likra mine`); the negative head learns them with negative kind
    'mined'. Empty for benchmark questions."""

    def __post_init__(self) -> None:
        if not 0 <= self.gold < len(self.choices):
            raise DataError(f"gold index {self.gold} out of range for {len(self.choices)} choices", field="gold")
        if self.choice_contexts is not None and len(self.choice_contexts) != len(self.choices):
            raise DataError("choice_contexts and choices differ in length", field="choice_contexts")
        contexts = self.choice_contexts if self.choice_contexts is not None else (self.context,)
        if any(not c.startswith(self.description) for c in contexts):
            raise DataError("context does not start with the description", field="description")
        if any(not isinstance(n, str) or not n.strip() for n in self.negatives):
            raise DataError("negatives must be non-empty strings", field="negatives")

    def context_for(self, i: int) -> str:
        """The context that choice `i` is scored after."""
        return self.choice_contexts[i] if self.choice_contexts is not None else self.context

    def continuation(self, i: int) -> str:
        """The scored text of choice `i`: delimiter + choice."""
        return self.target_delimiter + self.choices[i]

    def requests(self) -> list[tuple[str, str]]:
        """(context, continuation) per choice, in choice order."""
        return [(self.context_for(i), self.continuation(i)) for i in range(len(self.choices))]

    def fewshot_text(self) -> str:
        """This question answered correctly, as a few-shot example (lm-eval style), without the
        `description` preamble (lm-eval states it once, before all examples)."""
        return self.context_for(self.gold)[len(self.description):] + self.continuation(self.gold)


def questions_digest(questions) -> str:
    """sha256 of everything a model is shown and judged on (ids, prompts, choices, gold): a score or
    ranking saved for questions is reused only for questions with this digest."""
    rows = [[q.benchmark, q.id, q.context, list(q.choices), list(q.choice_contexts or ()), q.target_delimiter, q.gold]
            for q in questions]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def normalise_text(text: str) -> str:
    """Lower-case, strip punctuation and collapse spaces: the key for leak checks."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise_answer(text: str) -> str:
    """The key two answers are the same answer by (SQuAD's rule): casefold, punctuation to spaces,
    the articles a/an/the dropped, spaces collapsed. 'The Sun.' and 'sun' are one answer."""
    text = re.sub(r"[^\w\s]", " ", text.casefold())
    return " ".join(_ARTICLES.sub(" ", text).split())
