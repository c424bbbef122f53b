"""The device-side half of benchmarks/gpu_carry.py: pieces join back into the checked file."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gpu_carry import unpack  # noqa: E402


def _carry(root: Path, blob: bytes, parts: list[bytes], sha: str) -> None:
    names = []
    for i, part in enumerate(parts):
        (root / f"m.part{i:03d}").write_bytes(part)
        names.append(f"m.part{i:03d}")
    manifest = {"models": {"m": {"file": "m.gguf", "sha256": sha, "parts": names}}}
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_unpack_joins_pieces_in_order(tmp_path):
    blob = bytes(range(256)) * 1000
    _carry(tmp_path, blob, [blob[:100_000], blob[100_000:200_000], blob[200_000:]], hashlib.sha256(blob).hexdigest())
    paths = unpack(tmp_path)
    assert Path(paths["m"]).read_bytes() == blob


def test_unpack_refuses_a_missing_piece(tmp_path):
    blob = b"x" * 1000 + b"y" * 1000
    _carry(tmp_path, blob, [blob[:1000]], hashlib.sha256(blob).hexdigest())
    with pytest.raises(SystemExit, match="sha256"):
        unpack(tmp_path)
    assert not (tmp_path / "models" / "m.gguf").exists()
