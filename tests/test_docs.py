"""The README says what the code does: its demo figures come from the demo's own defaults, and its
demo table is what `likra demo` prints (the slow test re-runs it)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def demo_defaults() -> argparse.Namespace:
    from likra.demo import add_demo_args

    p = argparse.ArgumentParser()
    add_demo_args(p)
    return p.parse_args([])


def readme_table() -> list[str]:
    block = README.split("### What the demo shows", 1)[1].split("```", 2)[1]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_readme_demo_prose_matches_the_demo_defaults():
    d = demo_defaults()
    assert f"head on {d.n_train} ARC questions" in README
    assert f"scores {d.n_test} ARC-Challenge test questions" in README
    rows = readme_table()[1:]
    assert rows and all(r.split()[0] == str(d.n_train) and r.split()[-1] == str(d.n_test) for r in rows)


def test_readme_demo_time_matches_the_measured_wall_time():
    stated = re.search(r"about\s+(\d+)\s+minutes on 2 CPU cores", README)
    measured = re.search(r"Wall time on an idle 2-core machine: (\d+) min (\d+) s", README)
    assert stated and measured
    assert abs(int(stated.group(1)) * 60 - (int(measured.group(1)) * 60 + int(measured.group(2)))) <= 60


@pytest.mark.slow
def test_readme_demo_table_is_what_the_demo_prints(tmp_path, capsys):
    from likra.cli import main

    assert main(["--quiet", "demo", "--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in readme_table():
        assert line in printed
