"""Training one head: answer-only loss, constant LR, checkpoints at powers of two, resumable.

The batch schedule never crosses a power of two of examples seen, so one run saves the head after
exactly 1, 2, 4, 8, ... examples and at the end: a whole learning curve from one run. (The authors
saved at power-of-two steps; with batch 8 the points differ only below 8 examples.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from likra.config import TrainConfig
from likra.data.negatives import TrainingPair
from likra.errors import ArtifactError, DataError, RunStateError
from likra.models.heads import HeadMeta, head_parameters, make_trainable, save_head
from likra.training.batching import (answer_loss, answer_token_logps, batch_schedule, example_order, is_checkpoint,
                                     packed, padded)
from likra import distributed
from likra.io_utils import atomic_write_json
from likra.ops.tokenize import encode_pair
from likra.log import get_logger

_logger = get_logger(__name__)

__all__ = ["HeadTrainer", "TrainConfig", "TrainResult", "answer_loss", "batch_schedule", "is_checkpoint"]

STATE_DIR = "train_state"
PACE_KEPT = 8  # state saves whose times are kept for the pace


def _log(msg: str) -> None:
    _logger.info(msg)


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
    steps_now: int = 0
    """Of `steps`, those taken by this call (0: a finished run reused as saved)."""


def pairs_fingerprint(units: Sequence[Sequence[TrainingPair]]) -> str:
    """What the head is trained on; a unit of one example hashes as that example alone, as it always has."""
    h = hashlib.sha256()
    for unit in units:
        if len(unit) > 1:
            h.update(f"unit {len(unit)}".encode())
        for p in unit:
            h.update(json.dumps([p.context, p.answer, p.positive, p.kind, p.source_id]).encode())
    return h.hexdigest()[:16]


class HeadTrainer:
    """Trains one named adapter of a PEFT model on a list of training pairs."""

    def __init__(self, model, tokenizer, prefix_ids: Sequence[int], head: str, out_dir: str | Path,
                 config: TrainConfig = TrainConfig(), base_identity: dict | None = None, data_info: dict | None = None,
                 progress: bool = True):
        from likra.training.objectives import make_objective

        self.model, self.tokenizer, self.head, self.config = model, tokenizer, head, config
        self.prefix_ids = list(prefix_ids)
        self.out_dir = Path(out_dir)
        self.base_identity, self.data_info, self.progress = base_identity or {}, data_info or {}, progress
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad or 0
        # the loss is a component chosen by config; the trainer never branches on which one
        self.objective = make_objective(config.objective.name, **config.objective.params())

    def train(self, units: Sequence[TrainingPair | Sequence[TrainingPair]], resume: bool = True,
              max_steps: int | None = None) -> TrainResult:
        """Train on `units`: each is one example (a TrainingPair) or the examples an objective compares
        (gold then wrong answers of one question); one unit counts as one example seen."""
        pairs = [(u,) if isinstance(u, TrainingPair) else tuple(u) for u in units]
        if not pairs:
            raise DataError(f"no training pairs for head {self.head!r}")
        cfg = self.config
        params = make_trainable(self.model, self.head)
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        order = example_order(len(pairs), cfg.epochs, cfg.seed)
        sizes = batch_schedule(len(order), cfg.batch_size, cfg.curve)
        fingerprint = pairs_fingerprint(pairs)
        with self._writer(resume):
            return self._train(pairs, opt, params, order, sizes, fingerprint, resume, max_steps)

    def _writer(self, resume: bool):
        """The head folder's lock (likra/locks.py) while this process may write it: a second process
        resuming the same head stops with an error instead of interleaving checkpoints. A finished head
        is only read, so needs none (two experiments may share a finished head at once)."""
        from contextlib import nullcontext

        from likra.locks import hold, lock_path

        if (resume and _saved_finished(self.out_dir / STATE_DIR / "state.json")) or not distributed.is_main():
            return nullcontext()
        return hold(lock_path(self.out_dir), f"training head {self.head}")

    def _train(self, pairs, opt, params, order, sizes, fingerprint: str, resume: bool,
               max_steps: int | None) -> TrainResult:
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
        # (examples seen, time) at this process's start and at each state save: `experiment status` reads the
        # pace from it; never a pair across a stop, which a resumed run's checkpoint times would include
        self._pace = [(result.examples_seen, time.time())]
        bar = tqdm(total=len(order), initial=result.examples_seen, desc=f"train {self.head}", unit="ex",
                   disable=not (self.progress and distributed.is_main()))
        try:
            for size in sizes[result.steps:]:
                if max_steps is not None and result.steps >= max_steps:
                    break
                loss = self._step(opt, params,
                                  [pairs[i] for i in order[result.examples_seen:result.examples_seen + size]])
                result.steps += 1
                result.steps_now += 1
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

    def _step(self, opt, params, batch_units: list[tuple[TrainingPair, ...]]) -> float:
        """One optimiser step on the batch. Data parallel: each process runs the forward of its
        contiguous share of the units, the scores are gathered into the whole batch's (with gradient
        through this process's own share), every process computes the same loss, and the gradients
        are summed: the step of one process over the whole batch, for any objective."""
        lo, hi = distributed.shard(len(batch_units))
        local = self._scores(batch_units[lo:hi]) if hi > lo else None
        scores = local if distributed.world().size == 1 else gather_scores(local, self.model.device)
        loss = self.objective.loss(scores)
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:  # False only in a process whose share of a tiny step was empty
            loss.backward()
        distributed.sum_gradients(params)
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        opt.step()
        return loss.item()

    def _scores(self, units: list[tuple[TrainingPair, ...]]):
        """One forward (and one without the adapter when the objective needs a reference): per-example
        and per-token answer log-probabilities, what every objective is computed from."""
        from likra.training.objectives import Scores

        seqs = [p for unit in units for p in unit]
        encoded = [encode_pair(self.tokenizer, self.prefix_ids, p.context, p.answer) for p in seqs]
        cfg = self.config
        layout = packed(encoded, self.pad_id, cfg.pack_tokens) if cfg.pack_tokens else padded(encoded, self.pad_id)
        batch = {k: v.to(self.model.device) for k, v in layout.items()}
        token_logp, example = answer_token_logps(self.model, batch)
        n = len(seqs)
        ref = None
        if self.objective.needs_reference:  # the base model: the same forward with the adapter switched off
            with torch.no_grad(), self.model.disable_adapter():
                ref_tokens, ref_example = answer_token_logps(self.model, batch)
            ref = ref_tokens.new_zeros(n).index_add(0, ref_example, ref_tokens)
        return Scores(logp=token_logp.new_zeros(n).index_add(0, example, token_logp),
                      n_tokens=torch.bincount(example, minlength=n).to(token_logp.dtype),
                      token_logp=token_logp, token_example=example, ref_logp=ref,
                      positive=torch.tensor([p.positive for p in seqs], device=token_logp.device),
                      group_sizes=[len(unit) for unit in units])

    # ---- checkpoints and resume ---------------------------------------------------------------
    def _maybe_save(self, opt, fingerprint: str, result: TrainResult, total: int) -> None:
        seen = result.examples_seen
        checkpoint = is_checkpoint(seen, total, self.config.curve)
        if not distributed.is_main():  # the main process writes; the others wait until it has
            if checkpoint:
                result.checkpoints.append(str(self.out_dir / f"checkpoint-{seen:06d}"))
                distributed.barrier()
            return
        if checkpoint:
            meta = HeadMeta(self.head, seen, self.base_identity,
                            {"config": asdict(self.config), "data": self.data_info, "pairs_fingerprint": fingerprint})
            folder = save_head(self.model, self.head, self.out_dir / f"checkpoint-{seen:06d}", meta)
            result.checkpoints.append(str(folder))
        if checkpoint or result.steps % self.config.state_every == 0:
            self._save_state(opt, fingerprint, result)
        if checkpoint:
            distributed.barrier()

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
        self._pace = (self._pace + [(result.examples_seen, time.time())])[-PACE_KEPT:]
        atomic_write_json(tmp / "state.json", {"fingerprint": fingerprint, "config": asdict(self.config),
                                               **asdict(result), "pace": self._pace})
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
        # a setting added to likra after the state was saved reads as its default (what that run did)
        saved = {**json.loads(json.dumps(asdict(TrainConfig()))), **(state.get("config") or {})}
        if state.get("fingerprint") != fingerprint or saved != json.loads(json.dumps(asdict(self.config))):
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


def _saved_finished(state: Path) -> bool:
    """Whether the saved state says training finished (unreadable: no; _restore then says what is wrong)."""
    try:
        return json.loads(state.read_text(encoding="utf-8")).get("finished") is True
    except (OSError, ValueError, AttributeError):
        return False


def gather_scores(local, device):
    """The whole batch's Scores from every process's share (rank order = the batch's order). This
    process's own share keeps its gradient; the others arrive as values."""
    from dataclasses import replace as _replace

    from likra.training.objectives import Scores

    mine = None if local is None else _replace(
        local, **{f: getattr(local, f).detach().cpu() for f in _TENSOR_FIELDS if getattr(local, f) is not None})
    parts = distributed.gather(mine)
    rank = distributed.world().rank
    shares = [local if r == rank else _to(p, device) for r, p in enumerate(parts) if p is not None]
    offsets, n = [], 0
    for sh in shares:
        offsets.append(n)
        n += len(sh.logp)
    def cat(f):
        return None if getattr(shares[0], f) is None else torch.cat([getattr(sh, f) for sh in shares])

    sizes = None if shares[0].group_sizes is None else [g for sh in shares for g in sh.group_sizes]
    return Scores(logp=cat("logp"), n_tokens=cat("n_tokens"), token_logp=cat("token_logp"),
                  token_example=torch.cat([sh.token_example + o for sh, o in zip(shares, offsets)]),
                  ref_logp=cat("ref_logp"), positive=cat("positive"), group_sizes=sizes)


_TENSOR_FIELDS = ("logp", "n_tokens", "token_logp", "token_example", "ref_logp", "positive")


def _to(s, device):
    from dataclasses import replace as _replace

    return _replace(s, **{f: getattr(s, f).to(device) for f in _TENSOR_FIELDS if getattr(s, f) is not None})
