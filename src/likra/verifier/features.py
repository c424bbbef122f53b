"""Score verification cases: each answer's log-likelihood given its question, under every head, and
the rule scores the verifier reads from them.

Requests are lm-eval's (context, continuation): context "Question: {q}\\nAnswer:", continuation
" {answer}". All cases go through the engine at once: one `score_requests` call for the conditional
requests under every head (base, pos, neg as the run has them), and one for PMI's unconditional
requests under the base model alone (scoring those under the heads would be work no rule reads).
PMI's unconditional context is "Answer:" (see PMI_CONTEXT). numpy only at import; torch comes with
the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from likra.errors import ConfigError, RunStateError
from likra.scoring.matrix import NORMS
from likra.scoring.rules import RULES
from likra.verifier.cases import VerifyCase

TEMPLATE = "Question: {question}\nAnswer:"
"""The prompt an answer is scored after (likra's ARC template; `likra score` uses the same)."""
PMI_CONTEXT = "Answer:"
"""PMI's unconditional context. lm-eval's acc_mutual_info uses "" (the answer after BOS alone); the
answer after "Answer:" keeps the same token boundary and answer format as the conditional request,
so the difference measures what the question adds, not how likely the text is to open a document."""
VERIFY_RULES: dict[str, tuple[str, ...]] = {
    "base": ("base",), "pmi": ("base",), "sft": ("pos",), "likra": ("pos", "neg"), "base-likra": ("base", "neg"),
}
"""Rules the verifier reports, and the heads each needs (pmi also needs the unconditional requests)."""
DEFAULT_ORDER = ("likra", "base-likra", "sft", "base")
"""The default rule: the first of these the heads allow (as `likra score` picks)."""


@dataclass
class CaseScores:
    """Per-case log-likelihoods under each head: everything a rule score is computed from."""

    loglik: dict[str, np.ndarray]
    """head -> float64 [case]: summed log-probability of " {answer}" after the question's prompt."""
    unconditional: np.ndarray | None
    """float64 [case]: base summed log-probability of " {answer}" after PMI_CONTEXT; None if not scored."""
    n_chars: np.ndarray
    """int [case]: characters of the answer (no leading space), the 'char' norm's divisor (lm-eval acc_norm)."""
    n_tokens: np.ndarray
    """int [case]: tokens of the continuation (conditional request), the 'token' norm's divisor."""
    n_bytes: np.ndarray
    """int [case]: UTF-8 bytes of the answer, the 'byte' norm's divisor."""

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.loglik)

    def rules(self) -> tuple[str, ...]:
        """The VERIFY_RULES these scores allow, in VERIFY_RULES order."""
        return tuple(r for r in VERIFY_RULES if rule_available(r, self.heads, self.unconditional is not None))

    def divisor(self, norm: str) -> np.ndarray:
        if norm not in NORMS:
            raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}", field="norm")
        if norm == "none":
            return np.ones(len(self.n_chars))
        return np.maximum({"char": self.n_chars, "token": self.n_tokens, "byte": self.n_bytes}[norm], 1).astype(float)

    def scores(self, rule: str, weight: float = 1.0, norm: str = "char") -> np.ndarray:
        """float64 [case]: the rule's score, each log-likelihood divided by the norm's count first."""
        if not rule_available(rule, self.heads, self.unconditional is not None):
            raise ConfigError(f"rule {rule!r} needs heads {VERIFY_RULES.get(rule)}; available rules: "
                              f"{', '.join(self.rules())}", field="rule")
        d = self.divisor(norm)
        if rule == "pmi":  # log P(a | question) - log P(a | "Answer:"), base model
            return (self.loglik["base"] - self.unconditional) / d
        return RULES[rule][1]({h: v / d for h, v in self.loglik.items()}, weight)


def rule_available(rule: str, heads: Sequence[str], with_unconditional: bool = True) -> bool:
    """Whether `rule` can be computed from these heads (and, for pmi, the unconditional requests)."""
    if rule not in VERIFY_RULES:
        return False
    return set(VERIFY_RULES[rule]) <= set(heads) and (rule != "pmi" or with_unconditional)


def default_rule(heads: Sequence[str]) -> str:
    return next(r for r in DEFAULT_ORDER if rule_available(r, heads))


def model_heads(likra) -> tuple[str, ...]:
    """'base' plus the heads of the run, checking that the heads' weights are loaded."""
    if likra.heads and likra.checkpoint is None:
        raise RunStateError("no checkpoint of the heads is loaded: load_likra(..., checkpoint='final') or "
                            "likra.use_checkpoint(N) first")
    return ("base",) + tuple(likra.heads)


def score_cases(likra, cases: Sequence[VerifyCase], pmi: bool = True, progress: bool = True,
                batch_tokens: int | None = None) -> CaseScores:
    """Log-likelihoods of every case under base and each head of `likra` (a LikraModel), in two batched
    engine calls: conditional requests under all heads, PMI's unconditional ones under base."""
    from likra.scoring.engine import Request  # torch: imported when scoring, not with the module

    if not cases:
        raise ConfigError("no cases to score", field="cases")
    heads = model_heads(likra)
    engine = likra.engine(batch_tokens=batch_tokens, progress=progress)
    # a question's answers share its prompt: grouped by context (the engine's default), so the prompt
    # runs once per question per head
    cond = [Request(TEMPLATE.format(question=c.question), " " + c.answer) for c in cases]
    scored = engine.score_requests(cond, heads, desc=f"verifying {len(cases)} answers ({','.join(heads)})")
    loglik = {h: np.array([s[h].loglik for s in scored], dtype=np.float64) for h in heads}
    uncond = None
    if pmi:
        # grouped per question, not by the shared context: one group for every answer of the file would
        # be a single packed row thousands of tokens long
        reqs = [Request(PMI_CONTEXT, " " + c.answer, group=("pmi", c.qid)) for c in cases]
        un = engine.score_requests(reqs, ("base",), desc=f"PMI: {len(cases)} answers after {PMI_CONTEXT!r}")
        uncond = np.array([s["base"].loglik for s in un], dtype=np.float64)
    return CaseScores(loglik, uncond, np.array([len(c.answer) for c in cases]),
                      np.array([s["base"].n_tokens for s in scored]),
                      np.array([len(c.answer.encode("utf-8")) for c in cases]))


def rule_scores(scores: CaseScores, rules: Sequence[str], weight: float = 1.0,
                norm: str = "char") -> dict[str, np.ndarray]:
    """rule -> float64 [case], for each of `rules`."""
    return {r: scores.scores(r, weight, norm) for r in rules}
