"""Atomic file writes and the run record (config, seeds, versions) every run leaves beside its outputs."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Iterator


def _plain_mode() -> int:
    """The mode open() would give a new file: 0o666 less the umask (which can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed onto `path` when the block ends without an error
    (readers never see half a file), else removed. The file gets the permissions a plain open() would
    give: mkstemp makes it private, and results are read by others."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _plain_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and obj != obj:
        return None  # NaN is not JSON; null reads everywhere (an interval of one seed, an empty subset)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json_object(path: str | os.PathLike, fix: str = "") -> dict:
    """A JSON object likra wrote earlier; unreadable, truncated or not an object is an ArtifactError
    naming the file, with `fix` (what to do about it) appended."""
    from likra.errors import ArtifactError

    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"unreadable or truncated JSON ({e}){'; ' + fix if fix else ''}", path=str(path)) from e
    if not isinstance(value, dict):
        raise ArtifactError(f"expected a JSON object{'; ' + fix if fix else ''}", path=str(path))
    return value


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the numbers, and torch's CPU thread count where
    torch is loaded: another count sums in another order, which moves log-likelihoods by ~5e-6 per
    answer and can flip a near-tied question (1 and 2 threads, SmolLM2-135M on CPU)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("likra", "torch", "transformers", "peft", "accelerate", "safetensors", "gguf"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    if (torch := sys.modules.get("torch")) is not None:  # not imported for it: a report needs no torch
        out["torch_threads"] = str(torch.get_num_threads())
    return out
