"""The positive and negative heads: two named PEFT LoRA adapters on ONE copy of the base model.

Saved in PEFT's own format (adapter_model.safetensors + adapter_config.json, loadable by
`PeftModel.load_adapter`) plus `likra-head.json`: base model identity, data, seed, config, versions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file, save_file

from likra.io_utils import atomic_write_json, library_versions

HEAD_NAMES = ("pos", "neg")
META_FILE = "likra-head.json"
WEIGHTS_FILE = "adapter_model.safetensors"

# MLP projection names by architecture family: the paper adapts the MLP (gate/up/down) only
_MLP_PROJECTIONS = (
    ("gate_proj", "up_proj", "down_proj"),  # llama, mistral, qwen, gemma, smollm
    ("c_fc", "c_proj"),  # gpt2 (c_proj also names attention's output: acceptable fallback)
    ("fc1", "fc2"),  # phi, opt
    ("dense_h_to_4h", "dense_4h_to_h"),  # gpt-neox, pythia
    ("w1", "w2", "w3"),  # mixtral-style experts
)


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    """LoRA rank (paper: 8)."""
    alpha: int = 8
    """LoRA alpha (paper: 8, so the scale alpha/r is 1)."""
    dropout: float = 0.0
    """LoRA dropout (paper: 0)."""
    target_modules: tuple[str, ...] | None = None
    """Module names to adapt; None picks the MLP projections of the architecture."""


def default_targets(model: torch.nn.Module) -> list[str] | str:
    """The MLP projections present in the model, else PEFT's 'all-linear'."""
    leaf_names = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}
    for group in _MLP_PROJECTIONS:
        if all(n in leaf_names for n in group):
            return list(group)
    return "all-linear"


def lora_config(model: torch.nn.Module, settings: LoraSettings) -> LoraConfig:
    targets = list(settings.target_modules) if settings.target_modules else default_targets(model)
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=targets, bias="none", task_type="CAUSAL_LM")


def attach_heads(model, settings: LoraSettings = LoraSettings(), names=HEAD_NAMES, seed: int = 0) -> PeftModel:
    """Wrap `model` with one LoRA adapter per name. Adapter weights are kept in float32.

    Each head is initialised from its own seed (seed + its index), so adding a head never
    changes another head's initial weights.
    """
    peft_model = None
    # one config from the bare model: once wrapped, its Linear layers are LoRA layers and would not match
    cfg = lora_config(model, settings)
    for i, name in enumerate(names):
        torch.manual_seed(seed + i)
        if peft_model is None:
            peft_model = get_peft_model(model, cfg, adapter_name=name, autocast_adapter_dtype=True)
        else:
            peft_model.add_adapter(name, cfg)
    _adapters_to_float32(peft_model)
    peft_model.eval()
    return peft_model


def _adapters_to_float32(model) -> None:
    for n, p in model.named_parameters():
        if "lora_" in n and p.dtype != torch.float32:
            p.data = p.data.float()


def head_parameters(model, head: str) -> list[torch.nn.Parameter]:
    return [p for n, p in model.named_parameters() if "lora_" in n and f".{head}." in n]


def make_trainable(model, head: str) -> list[torch.nn.Parameter]:
    """Only `head`'s LoRA weights get gradients; the base and the other head stay frozen."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = head_parameters(model, head)
    for p in params:
        p.requires_grad_(True)
    model.set_adapter(head)
    return params


@dataclass
class HeadMeta:
    head: str
    """'pos' or 'neg'."""
    examples_seen: int
    """Training examples this head had seen when saved."""
    base_model: dict
    """Identity of the base model (spec, sha256, architecture, parameter count)."""
    train: dict = field(default_factory=dict)
    """Training config, data description and seed."""
    versions: dict = field(default_factory=library_versions)
    """Library versions at save time."""


def save_head(model, head: str, folder: str | Path, meta: HeadMeta) -> Path:
    """Write one head in PEFT format plus likra's metadata; files appear atomically."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    state = get_peft_model_state_dict(model, adapter_name=head)
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp / WEIGHTS_FILE))
    model.peft_config[head].save_pretrained(str(tmp))
    atomic_write_json(tmp / META_FILE, asdict(meta))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def load_head(model, head: str, folder: str | Path, base_identity: dict | None = None) -> dict:
    """Load saved weights into the existing adapter `head`; check they were trained on this base."""
    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.exists():
        raise FileNotFoundError(f"{folder}: no {WEIGHTS_FILE}; not a saved likra/PEFT head")
    meta = read_meta(folder)
    _check_base(folder, meta.get("base_model", {}), base_identity or {})
    result = set_peft_model_state_dict(model, load_file(str(weights)), adapter_name=head)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if missing:
        raise ValueError(f"{folder}: weights do not fit this model's adapter layout: {missing[:3]}")
    return meta


def _check_base(folder: Path, saved: dict, current: dict) -> None:
    """Refuse a head trained on another base model: its scores would be meaningless."""
    for key in ("sha256", "model_type", "n_params"):
        a, b = saved.get(key), current.get(key)
        if a is not None and b is not None and a != b:
            raise ValueError(f"{folder}: head was trained on a different base model ({key}: {a} != {b})")
