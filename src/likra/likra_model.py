"""A Likra model: the base model plus the pos/neg heads of a training run, at a chosen checkpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from likra.heads import HEAD_NAMES, load_head, read_meta

_CKPT = re.compile(r"checkpoint-(\d+)$")


def head_checkpoints(run_dir: str | Path, head: str) -> dict[int, Path]:
    """examples seen -> checkpoint folder, for one head of a run."""
    folder = Path(run_dir) / head
    out = {}
    for p in folder.glob("checkpoint-*"):
        m = _CKPT.search(p.name)
        if m and p.is_dir():
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def select_checkpoints(run_dir: str | Path, spec: str) -> list[int]:
    """'final' -> the last; 'all' -> every one both heads share; '64,256' -> those (each must exist)."""
    avail = [set(head_checkpoints(run_dir, h)) for h in HEAD_NAMES if head_checkpoints(run_dir, h)]
    if not avail:
        raise FileNotFoundError(f"{run_dir}: no trained heads (expected pos/checkpoint-* or neg/checkpoint-*)")
    common = sorted(set.intersection(*avail))
    if spec == "final":
        return [max(set.union(*avail))]
    if spec == "all":
        return common
    wanted = [int(x) for x in spec.split(",") if x.strip()]
    missing = [w for w in wanted if w not in set.union(*avail)]
    if missing:
        raise ValueError(f"{run_dir}: no checkpoint at {missing}; available: {sorted(set.union(*avail))}")
    return wanted


@dataclass
class LikraModel:
    loaded: object
    """The LoadedModel (model, tokenizer, prefix_token_ids, identity)."""
    model: object
    """PeftModel with adapters 'pos' and 'neg' (or the bare model when there are no heads)."""
    run_dir: Path | None = None
    """The training run the heads come from."""
    heads: tuple[str, ...] = ()
    """Heads present in the run."""
    loaded_checkpoint: dict = field(default_factory=dict)
    """head -> examples seen of the weights now loaded."""

    def use_checkpoint(self, seen: int) -> None:
        """Load each head's weights at `seen` examples (the nearest earlier one if a head lacks it)."""
        for head in self.heads:
            cps = head_checkpoints(self.run_dir, head)
            at = max((c for c in cps if c <= seen), default=min(cps))
            if self.loaded_checkpoint.get(head) != at:
                load_head(self.model, head, cps[at], self.loaded.identity)
                self.loaded_checkpoint[head] = at


def load_likra(model_spec: str | None = None, run_dir: str | Path | None = None, device: str = "auto",
               dtype: str = "auto", cache_dir: str | None = None) -> LikraModel:
    """Base model (from `model_spec`, else the run's own base model) with the run's heads attached."""
    from likra.heads import LoraSettings, attach_heads
    from likra.models import load_model

    if model_spec is None:
        if run_dir is None:
            raise ValueError("give a model, a training run, or both")
        model_spec = _run_base_spec(run_dir)
    loaded = load_model(model_spec, device, dtype, cache_dir)
    if run_dir is None:
        return LikraModel(loaded, loaded.model)
    heads = tuple(h for h in HEAD_NAMES if head_checkpoints(run_dir, h))
    if not heads:
        raise FileNotFoundError(f"{run_dir}: no trained heads found")
    settings = _run_lora_settings(run_dir, heads[0])
    model = attach_heads(loaded.model, settings, names=HEAD_NAMES)
    return LikraModel(loaded, model, Path(run_dir), heads)


def _run_base_spec(run_dir) -> str:
    for head in HEAD_NAMES:
        for folder in head_checkpoints(run_dir, head).values():
            spec = read_meta(folder).get("base_model", {}).get("spec")
            if spec:
                return spec
    raise ValueError(f"{run_dir}: cannot tell which base model the heads were trained on; pass --model")


def _run_lora_settings(run_dir, head):
    import json

    from likra.heads import LoraSettings

    folder = next(iter(head_checkpoints(run_dir, head).values()))
    cfg = json.loads((folder / "adapter_config.json").read_text())
    targets = cfg.get("target_modules")
    targets = tuple(sorted(targets)) if isinstance(targets, (list, set)) else None
    return LoraSettings(r=cfg["r"], alpha=cfg["lora_alpha"], dropout=cfg.get("lora_dropout", 0.0), target_modules=targets)
