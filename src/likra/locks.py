"""One writer at a time: a head is trained, and a score table is scored, by one process.

Two processes resuming the same head (two terminals, two chains of experiments over one folder) would
each continue from the saved state and overwrite each other's checkpoints: a head trained on some
examples twice, and a learning curve that is no one's run, printed with exit code 0. So the process
that trains or scores takes an advisory lock on a small file beside what it writes (`fcntl.flock`: the
kernel releases it when the process ends, however it ends, so a killed run leaves no stale lock), and a
second one stops at once with a RunStateError naming the first (its pid, command and start time).

`holder` tells `likra experiment status` whether a job is running there now, instead of guessing from
how long ago it saved. Where `fcntl` does not exist (Windows) there is no lock and `holder` knows
nothing. Stdlib only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".likra.lock"
RETRY_S = 2.0  # `holder` takes the lock for a moment to test it; a writer starting then tries again


def available() -> bool:
    """Whether this platform has advisory file locks (`fcntl`; not on Windows)."""
    return fcntl is not None


def lock_path(folder: str | Path, stem: str | None = None) -> Path:
    """The lock of a folder (a head), or of one table in it (`stem`: e.g. 'scores' -> .scores.lock)."""
    return Path(folder) / (f".{stem}.lock" if stem else LOCK_FILE)


@contextmanager
def hold(path: str | Path, doing: str) -> Iterator[None]:
    """Hold the lock at `path` while the block runs, or raise RunStateError if a live process holds it.
    `doing` says what the holder does there, for the other's message ('training head pos')."""
    from likra.errors import RunStateError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a+", encoding="utf-8") as f:
        if not _take(f, fcntl.LOCK_EX):
            who = _describe(_read(f))
            raise RunStateError(f"{path.parent}: another likra process is already {doing} here{who}; wait for it to "
                                "finish or stop it, then rerun (the run resumes where it stopped)")
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "doing": doing,
                            "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}))
        f.flush()
        yield  # closing the file releases the lock


def holder(path: str | Path) -> dict | None:
    """Who holds the lock at `path` now ({pid, host, doing, since, command}), or None when no process does."""
    path = Path(path)
    if fcntl is None or not path.exists():
        return None
    with open(path, encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(f) or {"pid": None}
        except OSError:  # no locks on this file system: nothing known
            return None
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


def _take(f, mode: int) -> bool:
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            fcntl.flock(f, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        except OSError as e:  # a file system without locks (some network mounts): go on unguarded, and say so
            from likra.log import get_logger

            get_logger(__name__).warning(f"{f.name}: cannot lock on this file system ({e}); two likra processes "
                                         "writing here at once would not be stopped")
            return True


def _read(f) -> dict:
    try:
        f.seek(0)
        info = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return ""
    where = f" on {info['host']}" if info.get("host") and info["host"] != socket.gethostname() else ""
    return f" (pid {info['pid']}{where}, since {info.get('since', '?')}: {info.get('command', '?')})"
