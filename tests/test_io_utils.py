"""Atomic writes: a reader sees the old file or the new one, never half of one; a failed write leaves the
old file and no temporary behind; the new file is as readable as a plain open() would make it."""

from __future__ import annotations

import os
import stat

import pytest

from likra.io_utils import atomic_path, atomic_write_json, atomic_write_text


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_permissions_follow_the_umask_not_mkstemps_private_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "r.json", {"a": 1})
        with atomic_path(tmp_path / "p.png") as tmp:
            tmp.write_bytes(b"png")
        assert mode(tmp_path / "r.json") == mode(tmp_path / "p.png") == 0o644
    finally:
        os.umask(old)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert mode(plain) == 0o644  # what an ordinary write gives under the same umask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "scores.csv"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
    atomic_write_text(tmp_path / "new" / "folder" / "f.txt", "made")  # folders are made
    assert (tmp_path / "new" / "folder" / "f.txt").read_text() == "made"


def test_library_versions_record_torchs_thread_count_where_torch_is_loaded():
    """The thread count changes the order of sums and so the last digits of log-likelihoods: every record
    names it beside the versions."""
    import torch

    from likra.io_utils import library_versions

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert library_versions()["torch_threads"] == "1"
        torch.set_num_threads(2)
        assert library_versions()["torch_threads"] == "2"
    finally:
        torch.set_num_threads(before)
    assert library_versions()["torch"] != "not installed"
