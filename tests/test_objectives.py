"""The training objectives (likra.training.objectives): each against TRL 1.16's own trainer code on the same tiny
model and batch (TRL in the test extra only), unlikelihood and InfoNCA against the papers' formulas by
hand, and the properties every objective needs: grads flow, and the loss falls as gold beats wrong."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from likra.errors import ConfigError
from likra.training.objectives import OBJECTIVES, Scores, make_objective

V = 13  # vocabulary of the tiny model


class Bigram(torch.nn.Module):
    """The tiny model: next-token logits from the current token alone. Answers TRL's trainers as a
    transformers model does, plain (`.logits`) or with TRL's fused head (`fused_lm_head=True`)."""

    def __init__(self, seed: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(V, V, generator=torch.Generator().manual_seed(seed)) * 2)

    def forward(self, input_ids, attention_mask=None, labels=None, fused_lm_head=False, **_):
        logits = self.w[input_ids]
        if not fused_lm_head:
            return SimpleNamespace(logits=logits)
        from trl.trainer.utils import FusedCausalLMOutput

        lp, lab = logits[:, :-1].log_softmax(-1), labels[:, 1:]
        keep = lab != -100
        tok = lp.gather(-1, lab.clamp(min=0)[..., None])[..., 0]
        zero = torch.zeros_like(tok)
        return FusedCausalLMOutput(log_probs=torch.where(keep, tok, zero),
                                   entropy=torch.where(keep, -(lp.exp() * lp).sum(-1), zero).detach(),
                                   mean_logits=torch.where(keep, logits[:, :-1].mean(-1), zero).detach(),
                                   is_top1=(lp.argmax(-1) == lab) & keep)


def examples(n: int, seed: int, max_ctx: int = 3) -> list[tuple[list[int], list[int]]]:
    """n (context, answer) token lists of random lengths (no token 0: it pads)."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=g))  # noqa: E731
    return [([rand(1, V - 1) for _ in range(rand(1, max_ctx))], [rand(1, V - 1) for _ in range(rand(1, 5))])
            for _ in range(n)]


def scores(model: Bigram, exs, ref=None, positive=None, group_sizes=None) -> Scores:
    """What likra's trainer hands an objective, computed from the tiny model."""
    token_logp, token_example = [], []
    for i, (ctx, ans) in enumerate(exs):
        seq = torch.tensor(ctx + ans)
        lp = model.w[seq[:-1]].log_softmax(-1).gather(-1, seq[1:, None])[:, 0]
        token_logp.append(lp[-len(ans):])
        token_example += [i] * len(ans)
    tl, te = torch.cat(token_logp), torch.tensor(token_example)
    return Scores(logp=tl.new_zeros(len(exs)).index_add(0, te, tl), n_tokens=torch.bincount(te).float(),
                  token_logp=tl, token_example=te, ref_logp=ref, positive=positive, group_sizes=group_sizes)


def rows(exs, prefix=""):
    """TRL's padded batch: input ids, attention mask, completion mask (the answer) and labels."""
    length = max(len(c) + len(a) for c, a in exs)
    pad = lambda x, v: x + [v] * (length - len(x))  # noqa: E731
    t = lambda f: torch.tensor([f(c, a) for c, a in exs])  # noqa: E731
    return {f"{prefix}input_ids": t(lambda c, a: pad(c + a, 0)),
            f"{prefix}attention_mask": t(lambda c, a: pad([1] * len(c + a), 0)),
            f"{prefix}completion_mask": t(lambda c, a: pad([0] * len(c) + [1] * len(a), 0)),
            f"{prefix}labels": t(lambda c, a: pad([-100] * len(c) + a, -100))}


def pref_batch(chosen, rejected):
    """The CPO and ORPO trainers' batch: chosen_* and rejected_* ids, masks and labels."""
    return {k: v for side, exs in (("chosen_", chosen), ("rejected_", rejected))
            for k, v in rows(exs, side).items() if "completion" not in k}


def trl_trainer(cls, model, **attrs):
    """A TRL trainer without __init__: only the attributes its loss code reads (accelerate as identity)."""
    acc = SimpleNamespace(device=torch.device("cpu"), gather=lambda x: x, gather_for_metrics=lambda x: x,
                          unwrap_model=lambda m: m)
    t = object.__new__(cls)
    t.__dict__.update(model=model, ref_model=None, accelerator=acc, aux_loss_enabled=False, _tp_size=1,
                      _total_train_tokens=0, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
                      _stored_metrics=defaultdict(lambda: defaultdict(list)), _peft_has_been_casted_to_bf16=False,
                      args=SimpleNamespace(device=torch.device("cpu")), is_encoder_decoder=False, **attrs)
    return t


def pair_data(seed: int, n: int = 5, max_ctx: int = 3):
    """n questions' (chosen, rejected) examples in likra's pair layout, and a reference."""
    chosen, rejected = examples(n, seed, max_ctx), examples(n, seed + 1, max_ctx)
    rejected = [(c, a) for (c, _), (_, a) in zip(chosen, rejected)]  # same question
    ref = torch.randn(2 * n, generator=torch.Generator().manual_seed(seed + 2)) * 3 - 8
    return chosen, rejected, [e for pair in zip(chosen, rejected) for e in pair], ref


def close(a, b):
    a, b = float(a.detach() if torch.is_tensor(a) else a), float(b.detach() if torch.is_tensor(b) else b)
    assert a == pytest.approx(b, abs=1e-5, rel=1e-5), (a, b)


# ---- against TRL ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params,loss_type", [({}, "sigmoid"), ({"beta": 0.5}, "sigmoid"),
                                              ({"beta": 0.3, "label_smoothing": 0.2}, "robust")])
def test_dpo_equals_trl_dpo_trainer(params, loss_type):
    trl = pytest.importorskip("trl")
    model = Bigram(0)
    chosen, rejected, exs, ref = pair_data(10)
    obj = make_objective("dpo", **params)
    batch = rows(chosen + rejected)
    del batch["labels"]
    batch.update(ref_chosen_logps=ref[0::2], ref_rejected_logps=ref[1::2])
    trainer = trl_trainer(trl.DPOTrainer, model, beta=obj.beta, label_smoothing=obj.label_smoothing,
                          precompute_ref_logps=True, loss_types=[loss_type], loss_weights=[1.0], ld_alpha=None,
                          f_divergence_type="reverse_kl", use_weighting=False)
    close(obj.loss(scores(model, exs, ref=ref)), trainer.compute_loss(model, batch))


@pytest.mark.parametrize("kl,calculate_kl,loss_type", [("zero", False, "kto"), ("zero", False, "apo_zero_unpaired"),
                                                       ("batch", True, "kto")])
def test_kto_equals_trl_kto_trainer(kl, calculate_kl, loss_type):
    """kl='batch': TRL's KL estimate, fed the batch's own (prompt, completion) pairs as its KL pairs."""
    trl = pytest.importorskip("trl")
    model = Bigram(1)
    exs = examples(7, 20)
    positive = torch.tensor([True, False, True, True, False, False, True])
    obj = make_objective("kto", beta=0.3, desirable_weight=1.3, undesirable_weight=0.7, kl=kl)
    s = scores(model, exs, positive=positive)
    s.ref_logp = s.logp.detach() - 0.5 + torch.randn(7, generator=torch.Generator().manual_seed(3))
    assert (s.logp - s.ref_logp).mean() > 0  # so that the batch estimate is not clamped to 0
    batch = rows(exs)
    del batch["labels"]
    batch.update(label=positive, ref_logps=s.ref_logp)
    if calculate_kl:
        batch.update({f"KL_{k}": v for k, v in rows(exs).items() if k != "labels"}, ref_KL_logps=s.ref_logp)
    trainer = trl_trainer(trl.KTOTrainer, model, beta=0.3, desirable_weight=1.3, undesirable_weight=0.7,
                          precompute_ref_logps=True, loss_type=loss_type, calculate_KL=calculate_kl)
    close(obj.loss(s), trainer.compute_loss(model, batch))


@pytest.mark.parametrize("params", [{}, {"beta": 2.0, "gamma": 1.0}, {"cpo_alpha": 1.0, "label_smoothing": 0.1}])
def test_simpo_equals_trl_cpo_trainer(params):
    pytest.importorskip("trl")
    from trl.experimental.cpo import CPOTrainer

    model = Bigram(2)
    chosen, rejected, exs, _ = pair_data(30)
    obj = make_objective("simpo", **params)
    batch = pref_batch(chosen, rejected)
    trainer = trl_trainer(CPOTrainer, model, beta=obj.beta, simpo_gamma=obj.gamma, cpo_alpha=obj.cpo_alpha,
                          label_smoothing=obj.label_smoothing, loss_type="simpo", alpha=0.0, pad_token_id=0)
    close(obj.loss(scores(model, exs)), trainer.compute_loss(model, batch))


@pytest.mark.parametrize("beta", [0.1, 0.7])
def test_orpo_equals_trl_orpo_trainer(beta):
    """One-token prompts, so that TRL's NLL (over prompt and answer) is over the answer alone, as likra's."""
    pytest.importorskip("trl")
    from trl.experimental.orpo import ORPOTrainer

    model = Bigram(3)
    chosen, rejected, exs, _ = pair_data(40, max_ctx=1)
    batch = pref_batch(chosen, rejected)
    trainer = trl_trainer(ORPOTrainer, model, beta=beta, padding_value=0)
    close(make_objective("orpo", beta=beta).loss(scores(model, exs)), trainer.compute_loss(model, batch))


def test_pair_losses_equal_trl_at_extremes():
    """cpo_loss and odds_ratio_loss called directly on average log-probs from -30 to -1e-4 (both of
    log1mexp's branches), with likra's Scores built to have those averages."""
    pytest.importorskip("trl")
    from trl.experimental.cpo import CPOTrainer
    from trl.experimental.orpo import ORPOTrainer

    avg = -torch.logspace(-4, math.log10(30), 12)[torch.randperm(12, generator=torch.Generator().manual_seed(0))]
    n = torch.arange(12) % 3 + 1.0
    s = Scores(logp=avg * n, n_tokens=n, token_logp=avg.repeat_interleave(n.long()),
               token_example=torch.arange(12).repeat_interleave(n.long()))
    orpo = trl_trainer(ORPOTrainer, None, beta=0.2)
    nll = -s.token_logp[s.token_example % 2 == 0].mean()
    close(make_objective("orpo", beta=0.2).loss(s), nll - orpo.odds_ratio_loss(avg[0::2], avg[1::2])[0].mean())
    cpo = trl_trainer(CPOTrainer, None, beta=2.0, simpo_gamma=0.8, label_smoothing=0.0, loss_type="simpo", alpha=0.0)
    close(make_objective("simpo", beta=2.0, gamma=0.8).loss(s), cpo.cpo_loss(avg[0::2], avg[1::2])[0].mean())


# ---- against the papers' formulas, by hand ---------------------------------------------------------
def test_nll_is_the_mean_answer_token_loss():
    model = Bigram(4)
    s = scores(model, examples(6, 50))
    tokens = s.token_logp.tolist()
    close(make_objective("nll").loss(s), -sum(tokens) / len(tokens))


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_unlikelihood_by_hand(alpha):
    """Welleck et al. 2019: -log p on a positive's tokens, -alpha log(1 - p) (1 - p clamped at 1e-5) on
    a negative's; mean over tokens. Includes p ~ 1 (the clamp) and p ~ e^-50 on negatives."""
    x = torch.tensor([-0.3, -2.0, -1e-8, -50.0, -0.7, -0.01, -4.0], requires_grad=True)
    example = torch.tensor([0, 0, 1, 1, 2, 3, 3])
    positive = torch.tensor([True, False, True, False])
    s = Scores(logp=torch.zeros(4).index_add(0, example, x), n_tokens=torch.bincount(example).float(),
               token_logp=x, token_example=example, positive=positive)
    hand = [-v if positive[e] else -alpha * math.log(max(1 - math.exp(v), 1e-5)) for v, e in zip(x.tolist(), example)]
    loss = make_objective("unlikelihood", alpha=alpha).loss(s)
    close(loss, sum(hand) / len(hand))
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_infonca_by_hand_and_dpo_at_one_negative():
    """Chen et al. 2024, gold target 1: per question -log(e^r_gold / sum_i e^r_i), r = beta (logp - ref)."""
    model = Bigram(5)
    sizes = [4, 2, 3]
    exs, ref = examples(9, 60), torch.randn(9, generator=torch.Generator().manual_seed(6)) - 6
    s = scores(model, exs, ref=ref, group_sizes=sizes)
    r = (0.25 * (s.logp - ref)).tolist()
    starts = [0, 4, 6]
    hand = [-(r[a] - math.log(sum(math.exp(v) for v in r[a:a + k]))) for a, k in zip(starts, sizes)]
    close(make_objective("infonca", beta=0.25).loss(s), sum(hand) / 3)
    _, _, exs, ref = pair_data(70)
    s = scores(model, exs, ref=ref, group_sizes=[2] * 5)
    close(make_objective("infonca", beta=0.3).loss(s), make_objective("dpo", beta=0.3).loss(s))


# ---- what every objective needs ------------------------------------------------------------------------
def synthetic(name: str, shift: float = 0.0, seed: int = 0) -> tuple[Scores, torch.Tensor]:
    """Scores for 4 questions in the objective's layout from leaf token log-probs; `shift` raises the
    gold answers' token log-probs and lowers the wrong answers' by as much."""
    layout = OBJECTIVES[name].layout
    g = torch.Generator().manual_seed(seed)
    sizes = [2, 3, 2, 4] if layout == "group" else None
    n = sum(sizes) if sizes else 8
    gold = torch.zeros(n, dtype=torch.bool)
    gold[[0, 2, 5, 7] if layout == "group" else slice(0, n, 2)] = True
    lengths = torch.randint(1, 5, (n,), generator=g)
    example = torch.arange(n).repeat_interleave(lengths)
    base = -(torch.rand(len(example), generator=g) * 3 + 0.3)
    if layout == "single":
        gold[:] = True
    noise = torch.randn(n, generator=g)
    x = (base + torch.where(gold[example], shift, -shift)).requires_grad_()
    logp = torch.zeros(n).index_add(0, example, x)
    ref = torch.zeros(n).index_add(0, example, base) + noise if OBJECTIVES[name].needs_reference else None
    return Scores(logp=logp, n_tokens=lengths.float(), token_logp=x, token_example=example, ref_logp=ref,
                  positive=gold, group_sizes=sizes), x


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_grads_flow_and_loss_falls_as_gold_beats_wrong(name):
    obj = make_objective(name)
    s, x = synthetic(name)
    loss = obj.loss(s)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    better, _ = synthetic(name, shift=0.2)
    assert obj.loss(better) < loss


def test_declared_layouts_and_registry():
    from likra import config

    assert set(OBJECTIVES) == set(config.OBJECTIVES)
    assert {n for n, c in OBJECTIVES.items() if c.needs_reference} == {"dpo", "kto", "infonca"}
    assert {c.layout for c in OBJECTIVES.values()} == {"single", "unpaired", "pair", "group"}
    assert make_objective("simpo", gamma=1).gamma == 1 and make_objective("kto").kl == "zero"


@pytest.mark.parametrize("name,params,field", [
    ("sft", {}, "train.objective.name"), ("nll", {"beta": 0.1}, "train.objective.beta"),
    ("dpo", {"beta": 0}, "train.objective.beta"), ("dpo", {"beta": "0.1"}, "train.objective.beta"),
    ("dpo", {"label_smoothing": 0.5}, "train.objective.label_smoothing"),
    ("simpo", {"gamma": float("nan")}, "train.objective.gamma"), ("kto", {"kl": "mismatched"}, "train.objective.kl"),
    ("unlikelihood", {"alpha": -1}, "train.objective.alpha"), ("orpo", {"beta": True}, "train.objective.beta")])
def test_make_objective_errors(name, params, field):
    with pytest.raises(ConfigError) as e:
        make_objective(name, **params)
    assert e.value.field == field


def test_scores_that_do_not_fit_the_layout_are_refused():
    s, _ = synthetic("dpo")
    with pytest.raises(ValueError, match="pairs"):
        make_objective("orpo").loss(Scores(s.logp[:3], s.n_tokens[:3], s.token_logp, s.token_example))
    with pytest.raises(ValueError, match="ref_logp"):
        make_objective("dpo").loss(Scores(s.logp, s.n_tokens, s.token_logp, s.token_example))
    with pytest.raises(ValueError, match="group_sizes"):
        make_objective("infonca").loss(s)
