"""The scoring engine: log-likelihood of every choice under every head, in as few passes as possible.

- Shared prefix: a question's common prefix runs once and its choices branch off it (packing.py).
- Mixed-adapter batches: each packed row appears once per head in the same batch, and PEFT's
  `adapter_names` routes each row through its own LoRA head ('__base__' for the bare model).
- Logits only where scored: the decoder's hidden states are gathered at the predicting positions
  and only those go through the LM head, in chunks, with log-softmax in float32.
Every front door (CLI, API, experiments, benchmarks) scores through `ScoringEngine`.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from tqdm.auto import tqdm

from likra.data.questions import Question
from likra.lm_head import last_hidden, output_head, selected_log_probs
from likra.masks import model_masks
from likra.scoring.packing import PackedQuestion, collate, pack_question
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable
from likra.tokenize import encode_pair

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


class ScoringEngine:
    """Scores questions under the base model and any of its LoRA heads."""

    def __init__(self, model, tokenizer, prefix_token_ids: Sequence[int] = (), config: EngineConfig = EngineConfig()):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.prefix_ids = list(prefix_token_ids)
        self.is_peft = hasattr(model, "peft_config")
        self.hf_model = model.get_base_model() if self.is_peft else model
        self.decoder, self.lm_head, self.softcap = output_head(self.hf_model)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0
        self.batch_tokens = resolve_batch_tokens(config.batch_tokens, self.hf_model.device)
        self._verified = False
        self._packed: dict[tuple, PackedQuestion] = {}
        # transformers >= 5.24 names the KV-cache argument `cache`; older versions `past_key_values`
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    # ---- public -------------------------------------------------------------------------------
    def score(self, questions: Sequence[Question], heads: Sequence[str] = ("base",), checkpoint: str = "final") -> ScoreTable:
        """Score every choice of every question under each head ('base' or an adapter name)."""
        self._check_heads(heads)
        if not self._verified:
            self._verify_output_head()
        packed = [self._pack(i, q) for i, q in enumerate(questions)]
        table = ScoreTable()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), tqdm(total=len(packed), desc="scoring", unit="q",
                                             disable=not self.config.progress) as bar:
                long = [p for p in packed if p.trunk_len and p.trunk_len >= self.config.cache_prefix_from]
                short = [p for p in packed if not (p.trunk_len and p.trunk_len >= self.config.cache_prefix_from)]
                work = [(self._run_cached, [p]) for p in long] + [(self._run_batch, b) for b in self._batches(short, len(heads))]
                for run, batch in work:
                    for p, h, per_choice in run(batch, heads):
                        table.extend(self._rows(questions[p.index], h, checkpoint, per_choice))
                    bar.update(len(batch))
        finally:
            self.model.train(was_training)
        return table

    # ---- steps --------------------------------------------------------------------------------
    def _check_heads(self, heads: Sequence[str]) -> None:
        known = set(self.model.peft_config) if self.is_peft else set()
        unknown = [h for h in heads if h != "base" and h not in known]
        if unknown:
            raise ValueError(f"unknown head(s) {unknown}; the model has 'base' and {sorted(known)}")

    def _pack(self, index: int, q: Question) -> PackedQuestion:
        # memoised: a learning curve scores the same questions at every checkpoint
        key = (q.benchmark, q.id, tuple(q.requests()))
        if key not in self._packed:
            enc = [encode_pair(self.tokenizer, self.prefix_ids, ctx, cont) for ctx, cont in q.requests()]
            self._packed[key] = pack_question(0, enc)
        return replace(self._packed[key], index=index)

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
        pos = [list(range(trunk, trunk + width))] * (n_heads * n_choices)
        with self._adapters([n for n in names for _ in range(n_choices)]):
            out = self.decoder(input_ids=torch.tensor(ids, device=device), attention_mask=torch.tensor(mask, device=device),
                               position_ids=torch.tensor(pos, device=device), use_cache=False, **{self._cache_kwarg: cache})
        branch_hidden = last_hidden(out)
        rows, owners, tgts = [], [], []
        for hi in range(n_heads):
            for c, pairs in enumerate(p.targets):
                for col, tok in pairs:
                    rows.append(trunk_hidden[hi, col] if col < trunk else branch_hidden[hi * n_choices + c, col - starts[c]])
                    owners.append((0, hi, c)), tgts.append(tok)
        lp, greedy = selected_log_probs(self.lm_head, self.softcap, torch.stack(rows), torch.tensor(tgts, device=device),
                                       self.config.lm_head_chunk)
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
