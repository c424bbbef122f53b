"""The positive and negative heads: two named PEFT LoRA adapters on ONE copy of the base model.

Saved as `PeftModel.save_pretrained` saves one adapter (adapter_model.safetensors with the adapter name
stripped from its keys, adapter_config.json in inference mode naming the base model), so plain
`PeftModel.from_pretrained(base, folder)` loads it; plus `likra-head.json` (base model identity, data,
seed, config, versions) and README.md, a model card rendered from that record (likra.models.card).
"""

from __future__ import annotations

import copy
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file, save_file

from likra.config import HEAD_NAMES, LoraSettings
from likra.errors import ArtifactError
from likra.io_utils import atomic_write_json, atomic_write_text, library_versions, read_json_object
from likra.models.card import render_card

__all__ = ["HEAD_NAMES", "LoraSettings", "attach_heads", "load_head", "save_head", "read_meta", "write_card"]
META_FILE = "likra-head.json"
WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
CARD_FILE = "README.md"

# MLP projection names by architecture family: the paper adapts the MLP (gate/up/down) only
_MLP_PROJECTIONS = (
    ("gate_proj", "up_proj", "down_proj"),  # llama, mistral, qwen, gemma, smollm
    ("c_fc", "c_proj"),  # gpt2 (c_proj also names attention's output: acceptable fallback)
    ("fc1", "fc2"),  # phi, opt
    ("dense_h_to_4h", "dense_4h_to_h"),  # gpt-neox, pythia
    ("w1", "w2", "w3"),  # mixtral-style experts
)


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


def heads_on(loaded, settings: LoraSettings = LoraSettings(), seed: int = 0, names=HEAD_NAMES) -> PeftModel:
    """Fresh heads on a LoadedModel's base model, initialised exactly as `attach_heads(seed)` would.

    The base model is wrapped once (PEFT injects LoRA layers in place, so a second wrap would nest);
    later calls delete and re-add the same adapters, so one loaded model serves many runs (seeds,
    negative kinds) of an experiment.
    """
    if loaded.peft_model is None:
        loaded.peft_model = attach_heads(loaded.model, settings, names, seed)
        return loaded.peft_model
    peft_model = loaded.peft_model
    # the wrapped model's Linear layers are LoRA layers now: take the targets the first wrap chose
    targets = settings.target_modules or tuple(sorted(peft_model.peft_config[names[0]].target_modules))
    cfg = lora_config(peft_model, LoraSettings(settings.r, settings.alpha, settings.dropout, targets))
    with warnings.catch_warnings():  # "adapter pos was active, now deleted": it is re-added next
        warnings.simplefilter("ignore", UserWarning)
        for i, name in enumerate(names):
            if name in peft_model.peft_config:
                peft_model.delete_adapter(name)
            torch.manual_seed(seed + i)
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


def save_head(model, head: str, folder: str | Path, meta: HeadMeta,
              accuracy: float | Mapping[str, float] | None = None) -> Path:
    """Write one head as PEFT's save_pretrained would, plus likra's record and a model card (with the
    run's `accuracy` when known); the folder appears whole or not at all."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    # keys without the adapter name, as save_pretrained writes them: any adapter name loads them
    state = get_peft_model_state_dict(model, adapter_name=head)
    # metadata "format: pt" as PEFT and transformers write it; some safetensors readers insist on it
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp / WEIGHTS_FILE),
              metadata={"format": "pt"})
    _saved_config(model.peft_config[head], meta.base_model).save_pretrained(str(tmp))
    atomic_write_json(tmp / META_FILE, asdict(meta))
    atomic_write_text(tmp / CARD_FILE, render_card(meta, accuracy, _location(folder)))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def _saved_config(config: LoraConfig, base_identity: dict) -> LoraConfig:
    """The adapter config as save_pretrained writes it: inference mode, and the base model named. A copy,
    so the live adapter keeps training."""
    saved = copy.deepcopy(config)
    saved.inference_mode = True
    # the spec likra was given (a hub id stays a hub id), not the machine's cache folder of a named model
    spec = (base_identity or {}).get("spec")
    if spec:
        saved.base_model_name_or_path = spec
    return saved


def _location(folder: Path) -> str:
    """'pos/checkpoint-000064' inside a run; a folder elsewhere is named by itself."""
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name in HEAD_NAMES else folder.name


def write_card(folder: str | Path, accuracy: float | Mapping[str, float] | None = None) -> Path:
    """Render a saved head's README.md again from its likra-head.json, e.g. once its run is evaluated."""
    folder = Path(folder)
    meta = read_meta(folder)
    if not meta:
        raise ArtifactError(f"no {META_FILE}: not a head likra saved", path=str(folder))
    path = folder / CARD_FILE
    atomic_write_text(path, render_card(meta, accuracy, _location(folder)))
    return path


def read_meta(folder: str | Path) -> dict:
    """A saved head's likra-head.json ({} if absent: a plain PEFT adapter); a corrupt one is an error."""
    path = Path(folder) / META_FILE
    if not path.exists():
        return {}
    meta = _read_json(path)
    seen = meta.get("examples_seen")
    if meta.get("head") not in (None, *HEAD_NAMES) or (seen is not None and (not isinstance(seen, int) or seen < 1)):
        raise ArtifactError(f"not a likra head record (head {meta.get('head')!r}, examples_seen {seen!r})",
                            path=str(path))
    return meta


def _read_json(path: Path) -> dict:
    return read_json_object(path, "retrain this head or restore the file")


def load_head(model, head: str, folder: str | Path, base_identity: dict | None = None) -> dict:
    """Load saved weights into the existing adapter `head`; check they were trained on this base and
    that the file is whole. A truncated or corrupt file is an ArtifactError naming its path."""
    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.exists():
        raise ArtifactError(f"no {WEIGHTS_FILE}; not a saved likra/PEFT head", path=str(folder))
    meta = read_meta(folder)
    _check_base(folder, meta.get("base_model", {}), base_identity or {})
    _check_shape(folder, model.peft_config[head])
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types for truncated/corrupt files
        raise ArtifactError(f"corrupt or truncated adapter weights ({e}); retrain this head "
                            "(rerun the same likra train with --no-resume into a new folder)", path=str(weights)) from e
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ArtifactError(f"non-finite adapter weights in {bad[0]}", path=str(weights))
    result = set_peft_model_state_dict(model, state, adapter_name=head)
    wrong = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    expected = {n for n, _ in model.named_parameters() if "lora_" in n and f".{head}." in n}
    if wrong or len(state) != len(expected):
        raise ArtifactError(f"weights do not fit this model's adapter layout ({len(state)} tensors for "
                            f"{len(expected)} adapter weights{'; e.g. ' + wrong[0] if wrong else ''})",
                            path=str(weights))
    return meta


def _check_shape(folder: Path, current: LoraConfig) -> None:
    """The saved adapter config must describe the adapter it is loaded into (rank, alpha, modules)."""
    saved = _read_json(folder / CONFIG_FILE)
    for key in ("r", "lora_alpha"):
        if saved.get(key) != getattr(current, key):
            raise ArtifactError(f"{key} is {saved.get(key)!r}, but the run's heads have {getattr(current, key)!r}",
                                path=str(folder / CONFIG_FILE))
    targets = saved.get("target_modules")
    if not isinstance(targets, (list, str)) or (isinstance(targets, list)
                                                and set(targets) != set(current.target_modules)):
        raise ArtifactError(f"target_modules is {targets!r}, "
                            f"but the run's heads adapt {sorted(current.target_modules)}",
                            path=str(folder / CONFIG_FILE))


def _check_base(folder: Path, saved: dict, current: dict) -> None:
    """Refuse a head trained on another base model: its scores would be meaningless."""
    for key in ("sha256", "model_type", "n_params"):
        a, b = saved.get(key), current.get(key)
        if a is not None and b is not None and a != b:
            raise ArtifactError(f"head was trained on a different base model ({key}: {a} != {b}); "
                                "pass that model with --model, or omit --model to use the run's own", path=str(folder))
