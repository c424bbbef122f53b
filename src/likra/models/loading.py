"""Resolve a model spec (named model, folder, .gguf file or hub id) and load it for scoring/training.

GGUF files are dequantized by transformers, which takes 35 s to 2 min, so each one is converted once
into a plain float32 transformers folder under <cache>/models/<name-or-stem>-<sha256[:12]>/ and
later loads read that folder. Callers tokenize with add_special_tokens=False and prepend
LoadedModel.prefix_token_ids themselves, so the BOS decision is made here, once, per model.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from likra.errors import ConfigError, LikraError
from likra.io_utils import atomic_write_json
from likra.models.registry import (
    REGISTRY,
    ChecksumError,
    ModelNotInstalledError,
    NamedModel,
    gguf_path,
    sha256_file,
)
from likra.paths import cache_dir as _cache_root

__all__ = [
    "LoadedModel",
    "ModelSpecError",
    "ModelNotInstalledError",
    "ChecksumError",
    "load_model",
    "list_models",
    "resolve_device",
    "resolve_dtype",
]

META_FILE = "likra-model.json"  # written into every converted folder; its presence marks it complete
_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}


class ModelSpecError(LikraError):
    """The spec names no known model, folder or .gguf file, and the hub could not supply it."""


@dataclass
class LoadedModel:
    model: Any  # transformers PreTrainedModel, eval mode, on `device`
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    prefix_token_ids: list[int]  # put before every text: [bos] for models that expect BOS, else []
    identity: dict  # JSON-able description of exactly what was loaded (for run records)
    peft_model: Any = None  # the one PEFT wrapper with the pos/neg heads, once heads.heads_on made it

    @property
    def scores_identity(self) -> dict:
        """The part of `identity` that decides its scores (not the device or the load time): what a
        saved score is reused under only when it is equal."""
        return {k: self.identity.get(k)
                for k in ("spec", "path", "sha256", "model_type", "n_params", "dtype", "add_bos")}


@dataclass
class _Source:
    """Where from_pretrained should read, plus what resolution learned on the way."""

    kind: str  # named | folder | gguf | hub
    path: str  # a folder, or a hub id
    meta: dict  # contents of likra-model.json when the folder is a converted one


# ---------------------------------------------------------------- device and dtype


def resolve_device(device: str = "auto") -> torch.device:
    """The device to load on: `device` as given, else the data-parallel process's own (cuda:LOCAL_RANK
    under accelerate launch), else cuda, mps or cpu, the first available."""
    if device != "auto":
        return torch.device(device)
    from likra.distributed import world

    if world().device is not None:
        return torch.device(world().device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """auto: bfloat16 on CUDA; float32 elsewhere (on CPUs without native bf16 it was 5x slower)."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ConfigError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None


# ---------------------------------------------------------------- resolving a spec


def _resolve(spec: str, cache: str | os.PathLike | None) -> _Source:
    if spec in REGISTRY:
        folder = _named_folder(REGISTRY[spec], cache)
        return _Source("named", str(folder), _read_meta(folder))
    path = Path(spec).expanduser()
    if path.is_dir():
        return _Source("folder", str(path), _read_meta(path))
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        folder = _gguf_folder(path, path.stem, sha256_file(path), cache)
        return _Source("gguf", str(folder), _read_meta(folder))
    return _Source("hub", spec, {})


def _named_folder(model: NamedModel, cache: str | os.PathLike | None) -> Path:
    # The cache is looked up by the pinned digest first, so a converted model loads without its
    # package installed and without hashing the .gguf again.
    found = _find_converted(model.name, model.sha256, cache)
    if found is not None:
        return found
    source, sha = gguf_path(model, cache)  # raises ModelNotInstalledError / ChecksumError
    return _gguf_folder(source, model.name, sha, cache)


def _gguf_folder(source: Path, stem: str, sha: str, cache: str | os.PathLike | None) -> Path:
    return _find_converted(stem, sha, cache) or convert_gguf(source, stem, sha, cache)


def _models_dir(cache: str | os.PathLike | None) -> Path:
    return _cache_root(cache) / "models"


def _find_converted(stem: str, sha_prefix: str, cache: str | os.PathLike | None) -> Path | None:
    """A complete converted folder whose source sha256 begins with sha_prefix (full or pinned prefix)."""
    pattern = f"{glob.escape(stem)}-{sha_prefix[:12]}*"
    for folder in sorted(_models_dir(cache).glob(pattern)):
        meta = _read_meta(folder)
        if str(meta.get("source_sha256", "")).startswith(sha_prefix):
            return folder
    return None


def _read_meta(folder: Path) -> dict:
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        return {}
    return json.loads(meta_path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- GGUF conversion


def convert_gguf(source: Path, stem: str, sha: str, cache: str | os.PathLike | None = None) -> Path:
    """Convert a checked .gguf once into <cache>/models/<stem>-<sha[:12]>/, atomically:
    everything is written into a temp folder beside it, which is renamed only when complete."""
    final = _models_dir(cache) / f"{stem}-{sha[:12]}"
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared
    _status(f"converting {source.name} to a cached transformers folder (one time, about a minute) ...")
    start = time.perf_counter()
    try:
        meta = export_gguf(source, tmp)
        meta.update(source=str(source), source_sha256=sha, name=stem)
        atomic_write_json(tmp / META_FILE, meta)  # written last: marks the folder complete
        os.chmod(tmp / META_FILE, 0o644)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _status(f"converted in {time.perf_counter() - start:.0f} s -> {final}")
    return final


def _publish(tmp: Path, final: Path) -> None:
    try:
        os.rename(tmp, final)
    except OSError:
        # Another process finished the same conversion first: keep its folder, drop ours.
        if not (final / META_FILE).is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def export_gguf(source: Path, out: Path) -> dict:
    """Dequantize a .gguf into a plain float32 transformers folder `out`; return the BOS decision."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # Without this the folder would claim to be quantized (and the HF Trainer refuses such models).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    tokenizer.save_pretrained(out)
    add_bos = gguf_add_bos(source, model.config.model_type)
    return {"add_bos": add_bos, "bos_token_id": tokenizer.bos_token_id, "model_type": model.config.model_type}


def gguf_add_bos(source: Path, model_type: str) -> bool:
    """The file's own `tokenizer.ggml.add_bos_token`; without it, Gemma models expect BOS and others not.
    (transformers' GGUF tokenizer for Gemma does not add <bos> itself, so this must not come from it.)"""
    from gguf import GGUFReader

    field = GGUFReader(source).fields.get("tokenizer.ggml.add_bos_token")
    if field is not None:
        return bool(field.contents())
    return model_type.startswith("gemma")


def _status(message: str) -> None:
    print(f"likra: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- loading


def load_model(
    spec: str, device: str = "auto", dtype: str = "auto", cache_dir: str | os.PathLike | None = None
) -> LoadedModel:
    """Load a named model, local folder, .gguf file or hub id, in eval mode on `device`."""
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    source = _resolve(spec, cache_dir)
    try:
        model, tokenizer = _from_pretrained(source.path, torch_dtype)
    except Exception as exc:
        if source.kind != "hub":
            raise
        raise ModelSpecError(_hub_failure(spec, exc)) from exc
    model.to(dev).eval()
    add_bos = source.meta.get("add_bos")
    if add_bos is None:
        add_bos = _tokenizer_wants_bos(tokenizer, model.config.model_type)
    prefix = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    identity = _identity(spec, source, model, torch_dtype, dev, bool(prefix))
    return LoadedModel(model=model, tokenizer=tokenizer, prefix_token_ids=prefix, identity=identity)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # 'gpt2' or 'org/name', as the hub spells ids
# Exception classes (by name, so nothing is imported to recognise them) meaning "could not reach the
# hub": huggingface_hub's offline and cache-miss errors, and the HTTP clients' connection errors.
_UNREACHABLE = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError", "ConnectError", "ConnectTimeout"}
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _hub_failure(spec: str, exc: Exception) -> str:
    """Why a spec that is no name, folder or .gguf file did not load from the hub, and what to do."""
    known = f"{spec!r} is neither a known model name ({', '.join(REGISTRY)}), a local folder, nor a .gguf file"
    if not _HUB_ID.fullmatch(spec):
        return f"{known}, and it is not a Hugging Face hub id either (no such folder: {Path(spec).expanduser()})"
    if not _hub_unreachable(exc):
        return f"{known}, and loading it from the Hugging Face hub failed: {exc}"
    offline = [v for v in _OFFLINE_VARS if os.environ.get(v, "").upper() in {"1", "ON", "YES", "TRUE"}]
    why = f"offline mode is on ({', '.join(f'{v}=1' for v in offline)})" if offline else "no network connection"
    connect = f"unset {' and '.join(offline)} and connect to the network" if offline else "connect to the network"
    return (f"{known}, and as a Hugging Face hub id it is not in the local hub cache and the hub cannot be "
            f"reached: {why}. Either download it where there is a network (`hf download {spec} --local-dir DIR`) "
            f"and pass that folder (--model DIR), or {connect} and retry")


def _hub_unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` or an exception it was raised from says the hub could not be reached."""
    seen = 0
    while exc is not None and seen < 20:  # the chain is short; the bound guards against cycles
        if any(c.__name__ in _UNREACHABLE for c in type(exc).__mro__):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _from_pretrained(path: str, torch_dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, attn_implementation="sdpa")
    except ValueError as exc:  # architectures without SDPA say "does not support an attention ..."
        if not any(word in str(exc).lower() for word in ("attention", "sdpa")):
            raise
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, attn_implementation="eager")
    return model, tokenizer


def _tokenizer_wants_bos(tokenizer: Any, model_type: str) -> bool:
    """For folders and hub models: does the tokenizer itself put BOS first? Gemma always wants it."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    if model_type.startswith("gemma"):
        return True
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    return with_special[:1] == [bos] and without[:1] != [bos]


def _identity(spec: str, source: _Source, model: Any, torch_dtype: torch.dtype, dev: torch.device,
              add_bos: bool) -> dict:
    meta = source.meta
    return {
        "spec": spec,
        "kind": source.kind,
        "path": source.path,
        "gguf": meta.get("source"),
        "sha256": meta.get("source_sha256"),
        "model_type": model.config.model_type,
        "n_params": sum(p.numel() for p in model.parameters()),
        "dtype": str(torch_dtype).removeprefix("torch."),
        "device": str(dev),
        "add_bos": add_bos,
    }


# ---------------------------------------------------------------- listing


def list_models(cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """The named models, whether their packages are installed and whether a converted copy is cached."""
    rows = []
    for m in REGISTRY.values():
        cached = _find_converted(m.name, m.sha256, cache_dir)
        rows.append({
            "name": m.name,
            "description": m.description,
            "license": m.license,
            "installed": m.is_installed(),
            "cached": str(cached) if cached else None,
            "install": m.install,
        })
    return rows
