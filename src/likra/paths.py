"""Where likra finds data and keeps its caches. Every location can be overridden."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "LIKRA_DATA"
CACHE_ENV = "LIKRA_CACHE"


def repo_root() -> Path | None:
    """The source checkout this package lives in (src layout: <root>/src/likra/paths.py), or None when
    it is installed from a wheel (then <root> would be some folder inside the environment)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "likra").is_dir() else None


def data_root(override: str | os.PathLike | None = None) -> Path:
    """Benchmark data root: the argument, else $LIKRA_DATA, else ../shared/data beside the source
    checkout or the working directory (the first that exists). Files missing under it are read from
    the Hugging Face hub instead (data/hub.py)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    checkout = repo_root()
    beside = [checkout.parent] if checkout is not None else []
    candidates = [p / "shared" / "data" for p in (*beside, Path.cwd().parent)]
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
