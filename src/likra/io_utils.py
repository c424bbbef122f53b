"""Atomic file writes and the run record (config, seeds, versions) every run leaves beside its outputs."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """Versions of the libraries whose behaviour shapes the numbers."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("likra", "torch", "transformers", "peft", "accelerate", "safetensors", "gguf"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
