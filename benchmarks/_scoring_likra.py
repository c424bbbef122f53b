"""The likra side of the scoring benchmark: questions with lm-eval's few-shot contexts, two heads
saved in PEFT format (so lm-eval can load them too), and one timed three-head scoring call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from _scoring_meter import Meter

from likra.data.benchmarks import add_fewshot, get_benchmark, load_questions
from likra.data.questions import Question
from likra.models.heads import HeadMeta, attach_heads, save_head
from likra.scoring.engine import EngineConfig, ScoringEngine
from likra.scoring.rules import accuracy

HEADS = ("base", "pos", "neg")
RULE_OF_HEAD = {"base": "base", "pos": "sft", "neg": "neg"}  # the likra rule that reads one head alone


def prepare_questions(benchmark: str, shots: int, limit: int, data_root: str | None = None,
                      seed: int = 1234) -> list[Question]:
    """The first `limit` evaluation questions (lm-eval's --limit), each with its few-shot prefix drawn
    the way lm-eval draws them (`add_fewshot`)."""
    bench = get_benchmark(benchmark)
    questions = list(load_questions(benchmark, bench.eval_split, data_root=data_root).questions)[:limit]
    return add_fewshot(questions, benchmark, shots, seed, data_root)


def make_heads(loaded, out_dir: Path, std: float = 0.02, seed: int = 0) -> tuple[object, dict[str, Path]]:
    """Attach pos/neg LoRA heads with random nonzero B matrices (a throughput benchmark needs heads
    that differ from the base, not trained ones) and save each in PEFT format for lm-eval's `peft=`."""
    model = attach_heads(loaded.model, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):  # sorted: same weights on every run
            for head in ("pos", "neg"):
                if f"lora_B.{head}." in name:
                    p.copy_(torch.randn(p.shape, generator=gen) * std)
    folders = {}
    for head in ("pos", "neg"):
        meta = HeadMeta(head=head, examples_seen=0, base_model=loaded.identity,
                        train={"note": f"random LoRA B ~ N(0, {std}^2), seed {seed}: benchmark only"})
        folders[head] = save_head(model, head, out_dir / head, meta)
    return model, folders


@dataclass
class LikraRun:
    seconds: float
    """Wall time of the one ScoringEngine.score call (tokenization, packing, forward passes)."""
    cpu_seconds: float
    """Process CPU time (all threads) of that call."""
    others_cpu_share: float | None
    """Other processes' CPU use during the call, as a share of all CPUs."""
    table: object
    """The ScoreTable: one row per question x choice x head."""


def score(model, loaded, questions: list[Question], batch_tokens: int) -> LikraRun:
    engine = ScoringEngine(model, loaded.tokenizer, loaded.prefix_token_ids,
                           EngineConfig(batch_tokens=batch_tokens, progress=False))
    meter = Meter()
    with meter.section():
        table = engine.score(questions, HEADS, checkpoint="x")
    return LikraRun(meter.seconds, meter.cpu_seconds, meter.others_cpu_share, table)


def head_accuracy(table, head: str, norm: str) -> float:
    """Accuracy of one head alone, through likra's own decision rules (norm 'none' = lm-eval's acc,
    'char' = acc_norm)."""
    return accuracy(table, RULE_OF_HEAD[head], 1.0, norm, checkpoint=None if head == "base" else "x").acc


def logliks(table, questions: list[Question], head: str) -> list[list[float]]:
    """Per question (in order), the summed log-likelihood of each choice under `head`."""
    rows = {(r.question_id, r.choice): r.logprob for r in table.select(head, None if head == "base" else "x")}
    return [[rows[(q.id, c)] for c in range(len(q.choices))] for q in questions]


def greedy_flags(table, questions: list[Question], head: str) -> list[list[bool]]:
    rows = {(r.question_id, r.choice): r.greedy for r in table.select(head, None if head == "base" else "x")}
    return [[rows[(q.id, c)] for c in range(len(q.choices))] for q in questions]


def questions_from_requests(samples: list[dict], questions: list[Question]) -> list[Question]:
    """likra Questions whose requests are exactly lm-eval's logged (context, continuation) texts, to
    score the same strings when the prompts of the two sides differ (separates prompt building from
    scoring). Ids, gold and choice texts (for acc_norm) are kept from likra's questions."""
    out = []
    for s, q in zip(samples, questions):
        ctxs = [a[0] for a in s["arguments"]]
        conts = [a[1] for a in s["arguments"]]
        delim = q.target_delimiter if all(c.startswith(q.target_delimiter) for c in conts) else ""
        out.append(Question(q.id, q.benchmark, ctxs[0], tuple(c[len(delim):] for c in conts), q.gold,
                            target_delimiter=delim, choice_contexts=tuple(ctxs) if len(set(ctxs)) > 1 else None))
    return out
