"""Samples saved batch by batch, so that sampling cut off (a stop, Ctrl-C, a crash) resumes where it was.

Mining a thousand questions on a CPU takes an hour; without this a stop loses all of it. The journal
is JSONL: a header line with the fingerprint of what is being sampled (the prompts, the sampling
config, the model's identity), then one line per question with its raw samples. A rerun with the same
fingerprint continues after the last whole batch; each batch has its own seed (generation.py), so
the resumed samples are exactly those of an uninterrupted run. A different fingerprint, or a damaged
header, starts over (said in a warning): samples of other prompts or another model are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
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
        if keep != len(saved) or damaged:
            self._rewrite(saved[:keep])  # drop a batch cut off mid-write, so appends continue cleanly
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
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
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
        header = json.dumps({"kind": KIND, "fingerprint": self.fingerprint})
        atomic_write_text(self.path, header + "\n" + "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
