"""Training one head: answer-only loss, constant LR, checkpoints at powers of two, resumable.

The batch schedule never crosses a power of two of examples seen, so one run saves the head after
exactly 1, 2, 4, 8, ... examples and at the end: a whole learning curve from one run. (The authors
saved at power-of-two steps; with batch 8 the points differ only below 8 examples.)
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from likra.config import TrainConfig
from likra.data.negatives import TrainingPair
from likra.errors import ArtifactError, DataError, RunStateError
from likra.heads import HeadMeta, head_parameters, make_trainable, save_head
from likra.io_utils import atomic_write_json
from likra.lm_head import last_hidden, output_head, selected_log_probs
from likra.masks import PAD, model_masks
from likra.segment_attention import segment_attention
from likra.tokenize import encode_pair

STATE_DIR = "train_state"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class TrainResult:
    head: str
    """Which head was trained."""
    examples_seen: int
    """Training examples consumed (pairs x epochs when finished)."""
    steps: int
    """Optimiser steps taken."""
    finished: bool
    """False when stopped early by max_steps."""
    losses: list[tuple[int, int, float]] = field(default_factory=list)
    """(step, examples seen, mean answer-token loss) per step."""
    checkpoints: list[str] = field(default_factory=list)
    """Saved checkpoint folders."""


def batch_schedule(n: int, batch_size: int, curve: bool) -> list[int]:
    """Batch sizes covering n examples; with `curve`, no batch crosses a power of two."""
    sizes, seen = [], 0
    while seen < n:
        size = min(batch_size, n - seen)
        if curve:
            boundary = 1 << seen.bit_length()  # the next power of two above `seen`
            size = min(size, boundary - seen)
        sizes.append(size)
        seen += size
    return sizes


def is_checkpoint(seen: int, total: int, curve: bool) -> bool:
    return seen == total or (curve and seen & (seen - 1) == 0)


def pairs_fingerprint(pairs: Sequence[TrainingPair]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(json.dumps([p.context, p.answer, p.positive, p.kind, p.source_id]).encode())
    return h.hexdigest()[:16]


def example_order(n: int, epochs: int, seed: int) -> list[int]:
    order = []
    for e in range(epochs):
        idx = list(range(n))
        random.Random(seed * 1000 + e).shuffle(idx)
        order.extend(idx)
    return order


def _padded(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """One example per row, right-padded: the classic layout."""
    length = max(len(c) + len(a) for c, a in encoded)
    ids, mask, targets = [], [], []
    for ctx, ans in encoded:
        seq = ctx + ans
        pad = length - len(seq)
        ids.append(seq + [pad_id] * pad)
        mask.append([1] * len(seq) + [0] * pad)
        targets.append([-100] * len(ctx) + ans + [-100] * pad)
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "targets": torch.tensor(targets)}


def _packed(encoded: list[tuple[list[int], list[int]]], pad_id: int, row_tokens: int) -> dict[str, torch.Tensor]:
    """Examples packed into as few rows as `row_tokens` allows, balanced so the rows are of nearly
    equal length (the shorter rows' padding is the only waste): longest example first, each into
    the emptiest row. Rows may run a little over `row_tokens`; no example is ever split."""
    sizes = [len(c) + len(a) for c, a in encoded]
    n_rows = max(1, -(-sum(sizes) // max(row_tokens, max(sizes))))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    fill = [0] * n_rows
    for i in sorted(range(len(encoded)), key=lambda i: -sizes[i]):
        r = min(range(n_rows), key=fill.__getitem__)
        rows[r].append(i)
        fill[r] += sizes[i]
    for members in rows:
        members.sort()  # keep the step's example order inside a row (readable, deterministic)
    length = max(fill)
    ids, pos, seg, targets = [], [], [], []
    for members in rows:
        row = {"ids": [], "pos": [], "seg": [], "tgt": []}
        for i in members:
            ctx, ans = encoded[i]
            row["ids"] += ctx + ans
            row["pos"] += list(range(len(ctx) + len(ans)))
            row["seg"] += [i] * (len(ctx) + len(ans))
            row["tgt"] += [-100] * len(ctx) + ans
        pad = length - len(row["ids"])
        ids.append(row["ids"] + [pad_id] * pad)
        pos.append(row["pos"] + [0] * pad)
        seg.append(row["seg"] + [PAD] * pad)
        targets.append(row["tgt"] + [-100] * pad)
    return {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos), "segment": torch.tensor(seg),
            "targets": torch.tensor(targets)}


def answer_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean negative log-likelihood of answer tokens; logits only at the positions predicting them."""
    hf = model.get_base_model() if hasattr(model, "peft_config") else model
    decoder, lm_head, softcap = output_head(hf)
    if "segment" in batch:  # packed rows: a block-diagonal mask and per-example positions
        mask = model_masks(hf.config, batch["segment"], batch["position_ids"], hf.dtype)
        with segment_attention(hf, batch["segment"]):  # per-example causal attention where it is exact
            out = decoder(input_ids=batch["input_ids"], attention_mask=mask, position_ids=batch["position_ids"],
                          use_cache=False)
    else:
        out = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
    hidden = last_hidden(out)
    targets = batch["targets"][:, 1:]
    rows, cols = (targets != -100).nonzero(as_tuple=True)
    lp, _ = selected_log_probs(lm_head, softcap, hidden[rows, cols], targets[rows, cols], greedy=False)
    return -lp.mean()


class HeadTrainer:
    """Trains one named adapter of a PEFT model on a list of training pairs."""

    def __init__(self, model, tokenizer, prefix_ids: Sequence[int], head: str, out_dir: str | Path,
                 config: TrainConfig = TrainConfig(), base_identity: dict | None = None, data_info: dict | None = None,
                 progress: bool = True):
        self.model, self.tokenizer, self.head, self.config = model, tokenizer, head, config
        self.prefix_ids = list(prefix_ids)
        self.out_dir = Path(out_dir)
        self.base_identity, self.data_info, self.progress = base_identity or {}, data_info or {}, progress
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad or 0

    def train(self, pairs: Sequence[TrainingPair], resume: bool = True, max_steps: int | None = None) -> TrainResult:
        if not pairs:
            raise DataError(f"no training pairs for head {self.head!r}")
        cfg = self.config
        params = make_trainable(self.model, self.head)
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        order = example_order(len(pairs), cfg.epochs, cfg.seed)
        sizes = batch_schedule(len(order), cfg.batch_size, cfg.curve)
        fingerprint = pairs_fingerprint(pairs)
        result = TrainResult(self.head, 0, 0, False)
        if resume:
            self._restore(opt, fingerprint, result)
            if result.finished:
                _log(f"{self.head}: already trained ({result.examples_seen} examples) in {self.out_dir}; nothing to do")
                return result
            if result.steps:
                _log(f"{self.head}: resuming at step {result.steps}, {result.examples_seen} of {len(order)} examples "
                     f"seen (state saved in {self.out_dir / STATE_DIR})")
        self.model.train()
        bar = tqdm(total=len(order), initial=result.examples_seen, desc=f"train {self.head}", unit="ex",
                   disable=not self.progress)
        try:
            for size in sizes[result.steps:]:
                if max_steps is not None and result.steps >= max_steps:
                    break
                loss = self._step(opt, params, [pairs[i] for i in order[result.examples_seen:result.examples_seen + size]])
                result.steps += 1
                result.examples_seen += size
                result.losses.append((result.steps, result.examples_seen, loss))
                bar.update(size)
                bar.set_postfix(loss=f"{loss:.3f}")
                result.finished = result.examples_seen == len(order)
                self._maybe_save(opt, fingerprint, result, len(order))
        finally:
            bar.close()
            self.model.eval()
        return result

    def _step(self, opt, params, batch_pairs: list[TrainingPair]) -> float:
        encoded = [encode_pair(self.tokenizer, self.prefix_ids, p.context, p.answer) for p in batch_pairs]
        cfg = self.config
        layout = _packed(encoded, self.pad_id, cfg.pack_tokens) if cfg.pack_tokens else _padded(encoded, self.pad_id)
        batch = {k: v.to(self.model.device) for k, v in layout.items()}
        loss = answer_loss(self.model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        return loss.item()

    # ---- checkpoints and resume ---------------------------------------------------------------
    def _maybe_save(self, opt, fingerprint: str, result: TrainResult, total: int) -> None:
        seen = result.examples_seen
        checkpoint = is_checkpoint(seen, total, self.config.curve)
        if checkpoint:
            meta = HeadMeta(self.head, seen, self.base_identity,
                            {"config": asdict(self.config), "data": self.data_info, "pairs_fingerprint": fingerprint})
            folder = save_head(self.model, self.head, self.out_dir / f"checkpoint-{seen:06d}", meta)
            result.checkpoints.append(str(folder))
        if checkpoint or result.steps % self.config.state_every == 0:
            self._save_state(opt, fingerprint, result)

    def _save_state(self, opt, fingerprint: str, result: TrainResult) -> None:
        """Everything needed to continue bit-for-bit: weights, optimiser, RNG, position, losses."""
        final = self.out_dir / STATE_DIR
        tmp = self.out_dir / f"{STATE_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        names = [n for n, _ in self.model.named_parameters() if "lora_" in n and f".{self.head}." in n]
        save_file({n: p.detach().cpu().contiguous() for n, p in zip(names, head_parameters(self.model, self.head))},
                  str(tmp / "weights.safetensors"))
        torch.save({"optimizer": opt.state_dict(), "rng": torch.get_rng_state()}, tmp / "optimizer.pt")
        atomic_write_json(tmp / "state.json", {"fingerprint": fingerprint, "config": asdict(self.config), **asdict(result)})
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)

    def _restore(self, opt, fingerprint: str, result: TrainResult) -> None:
        folder = self.out_dir / STATE_DIR
        if not (folder / "state.json").exists():
            return
        try:
            state = json.loads((folder / "state.json").read_text())
            weights = load_file(str(folder / "weights.safetensors"))
            extra = torch.load(folder / "optimizer.pt", weights_only=False)
            position = state["examples_seen"], state["steps"], state["finished"], state["losses"], state["checkpoints"]
        except Exception as e:  # any unreadable piece: resuming from it would train on a wrong state
            raise ArtifactError(f"the saved training state cannot be read ({type(e).__name__}: {e}); "
                                "rerun with --no-resume to start this run over", path=str(folder)) from e
        if state.get("fingerprint") != fingerprint or state.get("config") != json.loads(json.dumps(asdict(self.config))):
            raise RunStateError(f"{folder}: a run with other data or settings is saved here; "
                                "use another output folder or --no-resume to start over")
        names = {n for n, _ in self.model.named_parameters() if "lora_" in n and f".{self.head}." in n}
        if set(weights) != names:
            raise ArtifactError("the saved training state does not match this model's adapter layout; rerun with "
                                "--no-resume to start over", path=str(folder))
        with torch.no_grad():
            for n, p in self.model.named_parameters():
                if n in weights:
                    p.copy_(weights[n])
        opt.load_state_dict(extra["optimizer"])
        torch.set_rng_state(extra["rng"])
        result.examples_seen, result.steps, result.finished, losses, result.checkpoints = position
        result.losses = [tuple(x) for x in losses]
