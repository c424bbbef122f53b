"""Where likra finds data and keeps its caches. Every location can be overridden."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "LIKRA_DATA"
CACHE_ENV = "LIKRA_CACHE"


def repo_root() -> Path:
    """The source checkout this package lives in (src layout: <root>/src/likra/paths.py)."""
    return Path(__file__).resolve().parents[2]


def data_root(override: str | os.PathLike | None = None) -> Path:
    """Benchmark data root: the argument, else $LIKRA_DATA, else ../shared/data beside the repo."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    candidates = [repo_root().parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """likra's cache (converted models, fetched wheels): argument, $LIKRA_CACHE, else ~/.cache/likra."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "likra"
