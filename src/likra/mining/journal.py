"""Samples saved batch by batch, so that sampling cut off (a stop, Ctrl-C, a crash) resumes where it was.

Mining a thousand questions on a CPU takes an hour; without this a stop loses all of it. The journal
is JSONL: a header line with the fingerprint of what is being sampled (the prompts, the sampling
config, the model's identity), the number of questions and of questions a batch, and when this
process started and with how many already sampled (so `likra experiment status` can say how long is
left), then one line per question with its raw samples. A rerun with the same fingerprint continues
after the last whole batch; each batch has its own seed (generation.py), so the resumed samples are
exactly those of an uninterrupted run. A different fingerprint, or a damaged header, starts over (said
in a warning): samples of other prompts or another model are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from likra.log import get_logger

_logger = get_logger(__name__)
KIND = "likra-sample-journal"


def fingerprint(prompts: Sequence[str], config: dict, model_identity: Any) -> str:
    blob = json.dumps({"prompts": list(prompts), "config": config, "model": model_identity}, sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class SampleJournal:
    def __init__(self, path: str | Path, fingerprint: str, batch_size: int, total: int):
        self.path, self.fingerprint, self.batch_size, self.total = Path(path), fingerprint, batch_size, total

    def done(self) -> list[list[str]]:
        """The samples already saved (whole batches only); the journal is (re)started when there are none
        to reuse."""
        saved, damaged = self._read()
        if saved is None:
            self._rewrite([])
            return []
        keep = len(saved) if len(saved) == self.total else len(saved) // self.batch_size * self.batch_size
        # rewritten each start: drops a batch cut off mid-write, so appends continue cleanly, and dates the start
        self._rewrite(saved[:keep])
        if keep:
            _logger.info(f"resuming sampling: {keep} of {self.total} questions already sampled in {self.path}")
        return saved[:keep]

    def append(self, samples: Sequence[list[str]]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
            f.flush()
            os.fsync(f.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    # ---- reading --------------------------------------------------------------------------------
    def _read(self) -> tuple[list[list[str]] | None, bool]:
        """(the saved samples, or None when there is nothing of these prompts to reuse; whether a line after
        them was cut off or damaged)."""
        if not self.path.exists():
            return None, False
        lines = self.path.read_text(encoding="utf-8").splitlines()
        header = _header(lines)
        if header.get("kind") != KIND or header.get("fingerprint") != self.fingerprint:
            _logger.warning(f"{self.path}: saved samples are of other prompts, settings or model; sampling again")
            return None, False
        saved, damaged = [], False
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except ValueError:  # the last line, cut off mid-write: everything after it is dropped
                damaged = True
                break
            if not (isinstance(row, list) and all(isinstance(x, str) for x in row)):
                damaged = True
                break
            saved.append(row)
        return saved[:self.total], damaged

    def _rewrite(self, samples: Sequence[list[str]]) -> None:
        from likra.io_utils import atomic_write_text

        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"kind": KIND, "fingerprint": self.fingerprint, "total": self.total,
                             "batch_size": self.batch_size, "started_at": time.time(), "started_with": len(samples)})
        atomic_write_text(self.path, header + "\n" + "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))


def _header(lines: Sequence[str]) -> dict:
    """The journal's header line as a dict; empty when it is missing or damaged."""
    try:
        header = json.loads(lines[0]) if lines else {}
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


@dataclass(frozen=True)
class Progress:
    """How far a journal's sampling is, read from its file alone (no model): for `likra experiment status`."""
    sampled: int
    """questions sampled so far"""
    total: int | None
    """questions to sample (None in a journal written before likra saved it)"""
    saved_ago_s: float
    """seconds since the last batch was saved"""
    per_question_s: float | None
    """seconds per question of the process that writes it, since it started (None before its first batch)"""
    batch_size: int
    """questions saved at once"""

    def left_s(self) -> float | None:
        if self.total is None or self.per_question_s is None:
            return None
        return self.per_question_s * max(self.total - self.sampled, 0)


def progress(path: str | Path, now: float | None = None) -> Progress:
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = _header(lines)
    sampled, mtime = max(0, len(lines) - 1), path.stat().st_mtime
    done_here = sampled - header.get("started_with", sampled)
    start = header.get("started_at")
    pace = (mtime - start) / done_here if start is not None and done_here > 0 else None
    return Progress(sampled, header.get("total"), (now if now is not None else time.time()) - mtime, pace,
                    header.get("batch_size", 1))
