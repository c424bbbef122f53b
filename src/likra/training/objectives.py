"""Training objectives: small components, log-probabilities in, a scalar loss out.

The trainer runs one forward per optimiser step, fills a `Scores` and calls `objective.loss(scores)`;
it never branches on the objective. What it must put in `Scores` is declared by the objective's class
variables: `layout` (how examples are ordered) and `needs_reference` (whether `ref_logp` is needed).

Layouts:
- "single": independent examples (nll).
- "unpaired": each example labelled positive (gold) or negative in `Scores.positive` (unlikelihood, kto).
- "pair": examples 2i and 2i+1 are the chosen (gold) and rejected answer of one question (dpo, simpo, orpo).
- "group": per question the gold first, then its wrong answers; `Scores.group_sizes` says how many (infonca).

Every preference loss follows TRL 1.16 to the last operation (tests/test_objectives.py checks each
against TRL's trainers on the same inputs); defaults are TRL's. Torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from likra.checks import above, at_least, checked, in_range, one_of
from likra.errors import ConfigError


@dataclass
class Scores:
    """What an objective sees of one optimiser step. Examples are ordered as the objective's `layout` says."""

    logp: Tensor
    """[n_examples] summed log-prob of each example's answer tokens under the trained head (has grad)."""
    n_tokens: Tensor
    """[n_examples] answer tokens per example (float)."""
    token_logp: Tensor
    """[n_answer_tokens] per-token log-prob under the trained head (has grad), examples concatenated in order."""
    token_example: Tensor
    """[n_answer_tokens] long: which example each token belongs to."""
    ref_logp: Tensor | None = None
    """[n_examples] summed log-prob under the reference (the base model, no grad); None if not needed."""
    positive: Tensor | None = None
    """[n_examples] bool: desirable (gold) or not; for the unpaired and single layouts."""
    group_sizes: list[int] | None = None
    """Examples per question, in order, for the group layout (each group: gold first, then wrong answers)."""


class Objective:
    """A loss over one step's `Scores`. Subclasses are dataclasses whose fields are the hyper-parameters."""

    name: ClassVar[str]
    layout: ClassVar[str]
    needs_reference: ClassVar[bool] = False
    SECTION: ClassVar[str] = "train.objective"  # names the setting in errors: train.objective.beta

    def loss(self, s: Scores) -> Tensor:
        raise NotImplementedError


# ---- helpers ---------------------------------------------------------------------------------------
def log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x <= 0, stable (Maechler 2012; TRL's ORPO uses the same branch at -ln 2)."""
    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def _pairs(x: Tensor) -> tuple[Tensor, Tensor]:
    """(chosen, rejected) of the pair layout: examples 2i and 2i+1."""
    if x.shape[0] % 2:
        raise ValueError(f"a 'pair' objective needs (chosen, rejected) pairs, got {x.shape[0]} examples")
    return x[0::2], x[1::2]


def _ratio(s: Scores) -> Tensor:
    """log pi(y|x) - log pi_ref(y|x) per example."""
    if s.ref_logp is None:
        raise ValueError("this objective needs Scores.ref_logp (the reference model's log-probs)")
    return s.logp - s.ref_logp


def _positive(s: Scores) -> Tensor:
    if s.positive is None:
        raise ValueError("an 'unpaired' objective needs Scores.positive")
    return s.positive.bool()


# ---- the objectives --------------------------------------------------------------------------------
@dataclass
class NLL(Objective):
    """Mean negative log-likelihood over all answer tokens of the step: -mean_t log p(y_t | x, y_<t).
    Likra's own loss (each head on its own answers), exactly the former `answer_loss`."""

    name: ClassVar[str] = "nll"
    layout: ClassVar[str] = "single"

    def loss(self, s: Scores) -> Tensor:
        return -s.token_logp.mean()


@dataclass
class Unlikelihood(Objective):
    """Token-level unlikelihood training (Welleck et al. 2019, "Neural Text Generation with Unlikelihood
    Training"), each negative answer's own tokens as the negative candidates: a positive answer's tokens
    by -log p(y_t), a negative answer's by -alpha * log(1 - p(y_t)); mean over all answer tokens.
    1 - p is clamped at 1e-5 as in the authors' code."""

    name: ClassVar[str] = "unlikelihood"
    layout: ClassVar[str] = "unpaired"
    alpha: float = 1.0
    """Weight of the unlikelihood term on the negatives' tokens."""

    def __post_init__(self) -> None:
        checked(self, alpha=at_least(0))

    def loss(self, s: Scores) -> Tensor:
        x = s.token_logp
        pos = _positive(s)[s.token_example]
        unlikely = -log1mexp(x.clamp(max=math.log1p(-1e-5)))  # -log(max(1 - p, 1e-5))
        return torch.where(pos, -x, self.alpha * unlikely).mean()


@dataclass
class DPO(Objective):
    """Direct Preference Optimization (Rafailov et al. 2023, eq. 7): with the implicit reward
    r = log pi(y|x) - log pi_ref(y|x), loss = -log sigmoid(beta * (r_chosen - r_rejected)), mean over pairs.
    TRL's DPOTrainer, loss_type="sigmoid"; label_smoothing > 0 is TRL's loss_type="robust" (Robust DPO,
    Chowdhury et al. 2024: [-(1-e) log s(bd) + e log s(-bd)] / (1-2e)), the only TRL 1.16 sigmoid loss
    that reads label_smoothing and reduces to DPO at 0."""

    name: ClassVar[str] = "dpo"
    layout: ClassVar[str] = "pair"
    needs_reference: ClassVar[bool] = True
    beta: float = 0.1
    """Inverse temperature: how far the head may move from the reference (TRL's default)."""
    label_smoothing: float = 0.0
    """Probability that a preference label is flipped (Robust DPO); 0 = plain DPO."""

    def __post_init__(self) -> None:
        checked(self, beta=above(0), label_smoothing=in_range(0, 0.5))

    def loss(self, s: Scores) -> Tensor:
        chosen, rejected = _pairs(_ratio(s))
        d = self.beta * (chosen - rejected)
        if not self.label_smoothing:
            return (-F.logsigmoid(d)).mean()
        e = self.label_smoothing
        return ((-(1 - e) * F.logsigmoid(d) + e * F.logsigmoid(-d)) / (1 - 2 * e)).mean()


@dataclass
class SimPO(Objective):
    """Simple Preference Optimization (Meng et al. 2024, eq. 6), reference-free and length-normalised:
    loss = -log sigmoid(beta * (logp_c/|y_c| - logp_r/|y_r|) - gamma), mean over pairs. TRL's CPOTrainer
    with loss_type="simpo" (cpo_loss: logits = avg_c - avg_r - gamma/beta, then beta * logits); cpo_alpha > 0
    adds CPO's NLL on the chosen answers' tokens (CPO-SimPO); label_smoothing is CPO's conservative form."""

    name: ClassVar[str] = "simpo"
    layout: ClassVar[str] = "pair"
    beta: float = 0.1
    """Reward scale (TRL CPOConfig's default; the SimPO paper uses 2 to 10)."""
    gamma: float = 0.5
    """Target reward margin gamma (TRL's simpo_gamma, not the ratio gamma/beta)."""
    cpo_alpha: float = 0.0
    """Weight of the NLL on the chosen answers (0: pure SimPO, as TRL's docs set it)."""
    label_smoothing: float = 0.0
    """Conservative loss: weight of the flipped label, -(1-e) log s(z) - e log s(-z)."""

    def __post_init__(self) -> None:
        checked(self, beta=above(0), gamma=at_least(0), cpo_alpha=at_least(0), label_smoothing=in_range(0, 0.5))

    def loss(self, s: Scores) -> Tensor:
        chosen, rejected = _pairs(s.logp / s.n_tokens)
        z = self.beta * ((chosen - rejected) - self.gamma / self.beta)
        e = self.label_smoothing
        loss = (-F.logsigmoid(z) * (1 - e) - F.logsigmoid(-z) * e).mean()
        if self.cpo_alpha:
            loss = loss + self.cpo_alpha * -s.token_logp[s.token_example % 2 == 0].mean()
        return loss


@dataclass
class ORPO(Objective):
    """Odds Ratio Preference Optimization (Hong et al. 2024, eqs. 6-7), reference-free: with the
    per-token average log-prob a = logp/|y| and odds(y) = p/(1-p) for p = exp(a),
    loss = NLL(chosen tokens) - beta * mean log sigmoid(log odds(y_c) - log odds(y_r)).
    TRL's ORPOTrainer (odds_ratio_loss, log1mexp). The NLL is over the chosen answers' tokens, as in the
    paper; TRL's also counts the prompt's tokens, which likra does not score."""

    name: ClassVar[str] = "orpo"
    layout: ClassVar[str] = "pair"
    beta: float = 0.1
    """Weight of the odds-ratio term (lambda in the paper; TRL's default)."""

    def __post_init__(self) -> None:
        checked(self, beta=above(0))

    def loss(self, s: Scores) -> Tensor:
        chosen, rejected = (a.float() for a in _pairs(s.logp / s.n_tokens))
        log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
        nll = -s.token_logp[s.token_example % 2 == 0].mean()
        return nll - (self.beta * F.logsigmoid(log_odds)).mean()


@dataclass
class KTO(Objective):
    """Kahneman-Tversky Optimization (Ethayarajh et al. 2024, eq. 7) on unpaired examples: with
    r = log pi(y|x) - log pi_ref(y|x) and a reference point z, a gold answer's loss is
    w_d * (1 - sigmoid(beta * (r - z))), a wrong one's w_u * (1 - sigmoid(beta * (z - r))); mean over examples.
    TRL's KTOTrainer, loss_type="kto".

    z: TRL estimates KL(pi || pi_ref) from mismatched (prompt, completion) pairs made by rotating the
    batch's completions, detached and clamped at 0; likra's batch holds no such pairs (they would cost a
    second forward per step). kl="zero" (the default) takes z = 0, which is TRL's computation when it
    skips the KL (calculate_KL=False; the same loss as its "apo_zero_unpaired"); kl="batch" applies TRL's
    estimator to the batch's own pairs: z = max(0, mean(r)), detached, which TRL itself rejects at batch
    size 1 as "equivalent to the implied reward"."""

    name: ClassVar[str] = "kto"
    layout: ClassVar[str] = "unpaired"
    needs_reference: ClassVar[bool] = True
    beta: float = 0.1
    """Inverse temperature (TRL's default)."""
    desirable_weight: float = 1.0
    """Weight of the gold answers' losses (TRL's default)."""
    undesirable_weight: float = 1.0
    """Weight of the wrong answers' losses (TRL's default)."""
    kl: str = "zero"
    """The reference point z: 'zero', or 'batch' (TRL's KL estimate on the batch's own pairs)."""

    def __post_init__(self) -> None:
        checked(self, beta=above(0), desirable_weight=at_least(0), undesirable_weight=at_least(0),
                kl=one_of("zero", "batch"))

    def loss(self, s: Scores) -> Tensor:
        r, pos = _ratio(s), _positive(s)
        z = r.mean().detach().clamp(min=0) if self.kl == "batch" else torch.zeros_like(r[:1])
        good = self.desirable_weight * (1 - torch.sigmoid(self.beta * (r - z)))
        bad = self.undesirable_weight * (1 - torch.sigmoid(self.beta * (z - r)))
        return torch.where(pos, good, bad).mean()


@dataclass
class InfoNCA(Objective):
    """InfoNCA (Chen et al. 2024, "Noise Contrastive Alignment of Language Models with Explicit Rewards",
    arXiv:2402.05369) with the gold's target probability 1: per question, rewards r_i = beta * (log pi(y_i|x) -
    log pi_ref(y_i|x)) over the gold and its K wrong answers, loss = -log softmax(r)[gold]; mean over
    questions. With one wrong answer it is DPO."""

    name: ClassVar[str] = "infonca"
    layout: ClassVar[str] = "group"
    needs_reference: ClassVar[bool] = True
    beta: float = 0.1
    """Inverse temperature of the implicit reward."""

    def __post_init__(self) -> None:
        checked(self, beta=above(0))

    def loss(self, s: Scores) -> Tensor:
        sizes = s.group_sizes
        if not sizes or sum(sizes) != s.logp.shape[0] or min(sizes) < 1:
            raise ValueError(f"a 'group' objective needs group_sizes summing to {s.logp.shape[0]}, got {sizes}")
        groups = torch.split(self.beta * _ratio(s), sizes)
        return torch.stack([torch.logsumexp(r, 0) - r[0] for r in groups]).mean()


OBJECTIVES: dict[str, type[Objective]] = {c.name: c for c in (NLL, Unlikelihood, DPO, SimPO, ORPO, KTO, InfoNCA)}
"""Every objective by name."""


def make_objective(name: str, **params) -> Objective:
    """The objective `name` with hyper-parameters `params`; a ConfigError on an unknown name or setting,
    or a setting of the wrong type or range."""
    cls = OBJECTIVES.get(name)
    if cls is None:
        raise ConfigError(f"train.objective.name: unknown objective {name!r}; known: {', '.join(OBJECTIVES)}",
                          field="train.objective.name")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"train.objective: {name} has no setting {', '.join(unknown)}; "
                          f"its settings: {', '.join(known) or 'none'}", field=f"train.objective.{unknown[0]}")
    return cls(**params)
