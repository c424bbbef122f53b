"""The scoring engine: log-likelihood of every choice under every head, in as few passes as possible.

- Shared prefix: a question's common prefix runs once and its choices branch off it (packing.py).
- Mixed-adapter batches: each packed row appears once per head in the same batch, and PEFT's
  `adapter_names` routes each row through its own LoRA head ('__base__' for the bare model).
- Logits only where scored: the decoder's hidden states are gathered at the predicting positions
  and only those go through the LM head, in chunks, with log-softmax in float32.
- Lengths: `lengths()` gives each question's token count from the engine's own (memoised)
  tokenization, for the caller's length policy (lengths.py); `score()` refuses a question too long for
  the model unless the engine truncates, the way lm-evaluation-harness does.
The core is request-level, as lm-evaluation-harness's `loglikelihood` is: `score_requests` takes
(context, continuation) requests, and requests of one group (by default: the same context) are packed
together so their shared prefix runs once. `score(questions)` is a thin layer over it: a question's
choices are one group. Every front door (CLI, API, lm-eval model, experiments, benchmarks) scores
through `ScoringEngine`, made from a loaded Likra model by `LikraModel.engine`.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Hashable, NamedTuple, Sequence

import torch
from tqdm.auto import tqdm

from likra import distributed
from likra.data.questions import Question
from likra.errors import ConfigError, LengthError
from likra.ops.lm_head import last_hidden, output_head, selected_log_probs
from likra.ops.masks import model_masks
from likra.scoring.lengths import apply_length_policy, model_max_length
from likra.scoring.packing import PackedQuestion, collate, pack_question
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable
from likra.ops.tokenize import encode_pair

PEFT_BASE = "__base__"


DEFAULT_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}


def resolve_batch_tokens(batch_tokens: int | None, device: torch.device | str) -> int:
    """`batch_tokens`, or the default for the device's type (the CUDA one for other accelerators)."""
    if batch_tokens is not None:
        return batch_tokens
    kind = torch.device(device).type
    return DEFAULT_BATCH_TOKENS.get(kind, DEFAULT_BATCH_TOKENS["cuda"])


@dataclass(frozen=True)
class EngineConfig:
    batch_tokens: int | None = None
    """Padded tokens per forward pass (rows x longest row); the main memory/speed knob. None picks
    the device's default (DEFAULT_BATCH_TOKENS): small on a CPU, where activations that stay in
    the cache beat big matrix products (1024 ran ARC 0-shot 1.6x faster than 8192 on 2 cores),
    large on a GPU, which needs big batches to be busy."""
    lm_head_chunk: int = 1024
    """Scored positions per LM-head matmul; bounds logits memory for large vocabularies."""
    cache_prefix_from: int = 256
    """A shared prefix at least this long (few-shot contexts) runs once per head with plain causal
    attention, and its choices continue from its KV cache; shorter ones are packed with other
    questions into rows with a tree mask (cheaper for short prompts, where attention is small)."""
    progress: bool = True
    """Show a progress bar."""
    max_length: int | None = None
    """The most tokens the model reads per request. None takes the model's context length from its
    config (`model_max_length`: max_position_embeddings, n_positions, ...), and no limit if the config
    names none. A request of L tokens (context with the prefix/BOS, plus continuation) is too long
    when L - 1 > max_length: the model reads all its tokens but the last, as in lm-evaluation-harness."""
    truncate: bool = False
    """Score too-long requests by cutting tokens from the left of the context (prefix/BOS included)
    so the model reads max_length tokens, exactly as lm-evaluation-harness does. False: `score()`
    refuses them with a LengthError (choose skip or truncate with `apply_length_policy` first)."""

    def __post_init__(self):
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"max_length must be a positive number of tokens, got {self.max_length}")


@dataclass(frozen=True)
class Request:
    """One log-likelihood request, as lm-evaluation-harness defines it."""

    context: str
    """Text the continuation is conditioned on (the engine adds the model's prefix/BOS before it)."""
    continuation: str
    """Text whose log-likelihood is computed, token by token, given the context."""
    group: Hashable | None = None
    """Requests with the same group are packed into one row, so their common token prefix runs once
    (a question's choices). None groups by context: requests that share a context share its work."""

    @property
    def group_key(self) -> Hashable:
        return ("context", self.context) if self.group is None else ("group", self.group)


class RequestScore(NamedTuple):
    """A request's result under one head: lm-evaluation-harness's (loglikelihood, is_greedy) plus the
    number of continuation tokens."""

    loglik: float
    """Summed log-probability of the continuation's tokens."""
    n_tokens: int
    """Continuation tokens scored."""
    is_greedy: bool
    """Every continuation token was the model's argmax."""


class ScoringEngine:
    """Scores questions under the base model and any of its LoRA heads."""

    def __init__(self, model, tokenizer, prefix_token_ids: Sequence[int] = (), config: EngineConfig = EngineConfig()):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.prefix_ids = list(prefix_token_ids)
        # PEFT also sets `peft_config` on the base model it injects adapters into; only the wrapper
        # (get_base_model, disable_adapter) can score that model without its adapters.
        self.is_peft = hasattr(model, "peft_config") and hasattr(model, "get_base_model")
        if hasattr(model, "peft_config") and not self.is_peft:
            raise TypeError("this model has PEFT adapters injected into it: score through the PeftModel that "
                            "wraps it (its base scores need disable_adapter()), e.g. loaded.peft_model")
        self.hf_model = model.get_base_model() if self.is_peft else model
        self.decoder, self.lm_head, self.softcap = output_head(self.hf_model)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0
        self.batch_tokens = resolve_batch_tokens(config.batch_tokens, self.hf_model.device)
        self.max_length = config.max_length if config.max_length is not None else model_max_length(self.hf_model)
        self._verified = False
        # memo per request group: token count of each request (untruncated), and the packed row or the
        # LengthError message that scoring it raises
        self._prepared: dict[tuple, tuple[list[int], PackedQuestion | str]] = {}
        # transformers >= 5.24 names the KV-cache argument `cache`; older versions `past_key_values`
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    # ---- public -------------------------------------------------------------------------------
    def lengths(self, questions: Sequence[Question]) -> list[int]:
        """Tokens of each question's longest request: context (prefix/BOS included) + continuation,
        before any truncation. Tokenizes through the memo `score()` reads, so checking lengths
        first costs no second tokenization."""
        return [max(self._prepare(tuple(q.requests()), f"question {q.id}")[0]) for q in questions]

    def score_requests(self, requests: Sequence[Request], heads: Sequence[str] = ("base",),
                       desc: str | None = None) -> list[dict[str, RequestScore]]:
        """Per request, in order: {head: RequestScore} for each head ('base' or an adapter name).
        A request too long for the model is a LengthError unless the engine truncates."""
        groups: dict[Hashable, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.group_key, []).append(i)
        members = list(groups.values())
        pairs = [tuple((requests[i].context, requests[i].continuation) for i in m) for m in members]
        labels = [f"request {m[0]}" if len(m) == 1 else f"requests {m[0]}..{m[-1]}" for m in members]
        per_group = self._score_groups(pairs, labels, heads, desc)
        out: list[dict[str, RequestScore]] = [{} for _ in requests]
        for m, scores in zip(members, per_group):
            for head, per_member in scores.items():
                for i, res in zip(m, per_member):
                    out[i][head] = res
        return out

    def score(self, questions: Sequence[Question], heads: Sequence[str] = ("base",), checkpoint: str = "final",
              desc: str | None = None) -> ScoreTable:
        """Score every choice of every question under each head ('base' or an adapter name): the
        requests of each question are one group. `desc` labels the progress bar (default 'scoring'),
        e.g. 'scoring pos,neg @ 64 (pass 3/12)'."""
        self._check_heads(heads)
        self._check_lengths(questions)
        lo, hi = distributed.shard(len(questions))  # data parallel: my share; one process: all of them
        mine = questions[lo:hi]
        pairs = [tuple(q.requests()) for q in mine]
        per_group = self._score_groups(pairs, [f"question {q.id}" for q in mine], heads, desc)
        rows = [row for q, scores in zip(mine, per_group) for h in heads
                for row in self._rows(q, h, checkpoint, scores[h])]
        table = ScoreTable()
        for part in distributed.gather(rows):  # shares in rank order: the single-process table's order
            table.extend(part)
        return table

    # ---- steps --------------------------------------------------------------------------------
    def _score_groups(self, pairs: Sequence[tuple[tuple[str, str], ...]], labels: Sequence[str],
                      heads: Sequence[str], desc: str | None) -> list[dict[str, list[RequestScore]]]:
        """Per group, {head: one RequestScore per (context, continuation) of the group, in order}."""
        self._check_heads(heads)
        if not self._verified:
            self._verify_output_head()
        packed = [self._pack(i, group, label) for i, (group, label) in enumerate(zip(pairs, labels))]
        out: list[dict[str, list[RequestScore]]] = [{} for _ in pairs]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), tqdm(total=len(packed), desc=desc or "scoring", unit="q",
                                             disable=not (self.config.progress and distributed.is_main())) as bar:
                long = [p for p in packed if p.trunk_len and p.trunk_len >= self.config.cache_prefix_from]
                short = [p for p in packed if not (p.trunk_len and p.trunk_len >= self.config.cache_prefix_from)]
                work = ([(self._run_cached, [p]) for p in long]
                        + [(self._run_batch, b) for b in self._batches(short, len(heads))])
                for run, batch in work:
                    for p, h, per_choice in run(batch, heads):
                        out[p.index][h] = [RequestScore(lp, n, bool(g)) for lp, n, g in per_choice]
                    bar.update(len(batch))
        finally:
            self.model.train(was_training)
        return out

    def _check_heads(self, heads: Sequence[str]) -> None:
        known = set(self.model.peft_config) if self.is_peft else set()
        unknown = [h for h in heads if h != "base" and h not in known]
        if unknown:
            raise ValueError(f"unknown head(s) {unknown}; the model has 'base' and {sorted(known)}")

    def _check_lengths(self, questions: Sequence[Question]) -> None:
        """The last guard: without truncation, no over-long input reaches the model, whoever calls."""
        if not self.config.truncate:
            apply_length_policy(questions, self.lengths(questions), self.max_length, "error")

    def _prepare(self, pairs: tuple[tuple[str, str], ...], label: str) -> tuple[list[int], PackedQuestion | str]:
        """(token count per request, packed row or why it cannot be truncated to fit), for one group
        of (context, continuation) requests. Memoised by the texts: a learning curve scores the same
        questions at every checkpoint. Packed eagerly so the memo holds the compact row, not every
        choice's full copy of a long few-shot context."""
        if pairs not in self._prepared:
            enc = [encode_pair(self.tokenizer, self.prefix_ids, ctx, cont) for ctx, cont in pairs]
            lengths = [len(ctx) + len(cont) for ctx, cont in enc]
            self._prepared[pairs] = (lengths, self._pack_encoded(label, enc))
        return self._prepared[pairs]

    def _pack_encoded(self, label: str, enc: list[tuple[list[int], list[int]]]) -> PackedQuestion | str:
        if self.config.truncate and self.max_length is not None:
            longest = max(len(cont) for _, cont in enc)
            if longest > self.max_length:  # kept, not raised: lengths() still answers; score() raises it
                return (f"{label}: a continuation of {longest} tokens is longer than the "
                        f"model's context of {self.max_length} tokens, so cutting the context cannot "
                        "make it fit; leave the question out (`--length-policy skip`)")
            enc = [self._truncate_left(ctx, cont) for ctx, cont in enc]
        packed = pack_question(0, enc)
        if self.max_length is not None:
            # A sequence of max_length + 1 tokens sits whole in its row, its last token only predicted:
            # that token's position id would be max_length, out of range for learned position
            # embeddings, and a dynamic/longrope RoPE would rescale every row of the batch for it.
            # Nothing attends to a branch's last token and its output is unused, so clamping is exact.
            packed.position_ids = [min(p, self.max_length - 1) for p in packed.position_ids]
        return packed

    def _truncate_left(self, ctx: list[int], cont: list[int]) -> tuple[list[int], list[int]]:
        """lm-evaluation-harness, lm_eval/models/huggingface.py, HFLM._loglikelihood_tokens: the model
        input is `(context_enc + continuation_enc)[-(self.max_length + 1):][:-1]` ("when too long to fit
        in context, truncate from the left"), after `assert len(continuation_enc) <= self.max_length`.
        Keeping the last max_length + 1 tokens gives the model the same input: packing puts a
        sequence's last token in the row, but nothing attends to it and its output is never read.
        Choices of one question may then share a shorter prefix; pack_question finds it on its own."""
        cut = max(0, len(ctx) + len(cont) - (self.max_length + 1))
        return ctx[cut:], cont

    def _pack(self, index: int, pairs: tuple[tuple[str, str], ...], label: str) -> PackedQuestion:
        packed = self._prepare(pairs, label)
        if not self.config.truncate and self.max_length is not None and max(packed[0]) - 1 > self.max_length:
            raise LengthError(f"{label}: {max(packed[0])} tokens, more than the model's context of "
                              f"{self.max_length} tokens; shorten it or let the engine truncate (truncate=True)")
        packed = packed[1]
        if isinstance(packed, str):
            raise LengthError(packed)
        return replace(packed, index=index)

    def _batches(self, packed: list[PackedQuestion], copies: int):
        """Longest first, so padding stays small and an out-of-memory error comes early."""
        order = sorted(packed, key=lambda p: -len(p.input_ids))
        batch: list[PackedQuestion] = []
        for p in order:
            longest = len(batch[0].input_ids) if batch else len(p.input_ids)
            if batch and (len(batch) + 1) * copies * longest > self.batch_tokens:
                yield batch
                batch = []
            batch.append(p)
        if batch:
            yield batch

    def _adapters(self, adapter_names):
        """PEFT's mixed-batch routing: row i goes through adapter adapter_names[i]."""
        return (self.model.base_model._enable_peft_forward_hooks(adapter_names=adapter_names)
                if self.is_peft else nullcontext())

    def _hidden(self, input_ids, position_ids, mask, adapter_names):
        with self._adapters(adapter_names):
            out = self.decoder(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, use_cache=False)
        return last_hidden(out)

    def _run_cached(self, batch: list[PackedQuestion], heads: Sequence[str]):
        """One long-prefix question: the trunk once per head (causal), then all choices from its cache."""
        (p,) = batch
        device, n_heads, n_choices, trunk = self.hf_model.device, len(heads), len(p.targets), p.trunk_len
        names = [PEFT_BASE if h == "base" else h for h in heads]
        with self._adapters(names):
            out = self.decoder(input_ids=torch.tensor([p.input_ids[:trunk]] * n_heads, device=device), use_cache=True)
        trunk_hidden, cache = last_hidden(out), getattr(out, self._cache_kwarg)
        cache.batch_repeat_interleave(n_choices)  # row h * n_choices + c continues head h's trunk
        starts = [p.branch.index(c) for c in range(n_choices)]
        branches = [[t for t, b in zip(p.input_ids, p.branch) if b == c] for c in range(n_choices)]
        width = max(len(b) for b in branches)
        ids = [b + [self.pad_id] * (width - len(b)) for _ in heads for b in branches]
        mask = [[1] * (trunk + len(b)) + [0] * (width - len(b)) for _ in heads for b in branches]
        last = self.max_length - 1 if self.max_length is not None else trunk + width  # see _pack_encoded
        pos = [[min(j, last) for j in range(trunk, trunk + width)]] * (n_heads * n_choices)
        with self._adapters([n for n in names for _ in range(n_choices)]):
            out = self.decoder(input_ids=torch.tensor(ids, device=device),
                               attention_mask=torch.tensor(mask, device=device),
                               position_ids=torch.tensor(pos, device=device), use_cache=False,
                               **{self._cache_kwarg: cache})
        branch_hidden = last_hidden(out)
        rows, owners, tgts = [], [], []
        for hi in range(n_heads):
            for c, pairs in enumerate(p.targets):
                for col, tok in pairs:
                    rows.append(trunk_hidden[hi, col] if col < trunk
                                else branch_hidden[hi * n_choices + c, col - starts[c]])
                    owners.append((0, hi, c)), tgts.append(tok)
        lp, greedy = selected_log_probs(self.lm_head, self.softcap, torch.stack(rows),
                                        torch.tensor(tgts, device=device), self.config.lm_head_chunk)
        return self._sum_per_choice(batch, heads, owners, lp.tolist(), greedy.tolist())

    def _run_batch(self, batch: list[PackedQuestion], heads: Sequence[str]):
        device = self.hf_model.device
        t = {k: v.to(device) for k, v in collate(batch, len(heads), self.pad_id).items()}
        names = [PEFT_BASE if h == "base" else h for _ in batch for h in heads]
        mask = model_masks(self.hf_model.config, t["segment"], t["position_ids"], self.hf_model.dtype)
        hidden = self._hidden(t["input_ids"], t["position_ids"], mask, names)
        rows, cols, tgts, owners = [], [], [], []
        for bi, p in enumerate(batch):
            for hi in range(len(heads)):
                r = bi * len(heads) + hi
                for c, pairs in enumerate(p.targets):
                    for col, tok in pairs:
                        rows.append(r), cols.append(col), tgts.append(tok), owners.append((bi, hi, c))
        sel = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
        lp, greedy = selected_log_probs(self.lm_head, self.softcap, sel, torch.tensor(tgts, device=device),
                                       self.config.lm_head_chunk)
        return self._sum_per_choice(batch, heads, owners, lp.tolist(), greedy.tolist())

    @staticmethod
    def _sum_per_choice(batch, heads, owners, lp, greedy):
        acc: dict[tuple[int, int, int], list] = {}
        for key, v, g in zip(owners, lp, greedy):
            a = acc.setdefault(key, [0.0, 0, True])
            a[0] += v
            a[1] += 1
            a[2] = a[2] and g
        out = []
        for bi, p in enumerate(batch):
            for hi, h in enumerate(heads):
                out.append((p, h, [acc[(bi, hi, c)] for c in range(len(p.targets))]))
        return out

    @staticmethod
    def _rows(q: Question, head: str, checkpoint: str, per_choice) -> list[ScoreRow]:
        cp = BASE_CHECKPOINT if head == "base" else checkpoint
        return [ScoreRow(q.id, q.benchmark, c, head, cp, lp, n, len(q.choices[c]), len(q.choices[c].encode("utf-8")),
                         c == q.gold, bool(g)) for c, (lp, n, g) in enumerate(per_choice)]

    def _verify_output_head(self) -> None:
        """Decoder + LM head must reproduce the model's own logits; guards unusual architectures."""
        ids = torch.tensor([self.prefix_ids + self.tokenizer("likra check", add_special_tokens=False)["input_ids"]],
                           device=self.hf_model.device)
        ctx = self.model.disable_adapter() if self.is_peft else nullcontext()
        with torch.inference_mode(), ctx:
            ref = self.hf_model(input_ids=ids).logits[0].float()
            hid = last_hidden(self.decoder(input_ids=ids, use_cache=False))[0]
            ours = self.lm_head(hid).float()
            if self.softcap:
                ours = torch.tanh(ours / self.softcap) * self.softcap
        if not torch.allclose(ref, ours, atol=1e-3, rtol=1e-3):
            raise RuntimeError(f"{type(self.hf_model).__name__}: decoder + output head do not reproduce the model's "
                               "logits; this architecture needs support in likra.scoring.engine")
        self._verified = True
