"""What the docs tests share: the README and RESULTS texts, and how they write seeds and claim (f)."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "RESULTS.md"

SEED_WORDS = {1: "one seed so far", 2: "two seeds so far", 3: "three seeds"}
NUMBERS = {2: "two", 3: "three"}


def flat(text: str) -> str:
    """`text` with every run of whitespace made one space: a sentence reads the same across line breaks."""
    return " ".join(text.split())


def results_text() -> str:
    """RESULTS.md, read now (tests that rewrite it in place see their change), whitespace flattened."""
    return flat(RESULTS.read_text(encoding="utf-8"))


def committed(folder: str, name: str) -> dict:
    """The committed record docs/results/FOLDER/NAME.json."""
    from likra.experiments.records import load_record

    return load_record(RESULTS.parent / "results" / folder / f"{name}.json")


def listed(values: list[str]) -> str:
    """'a and b', 'a, b and c': how RESULTS lists one figure per seed."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"


def claim_f(folder: str):
    """The committed mass record of a results folder, its claim (f) verdict, and the verdict's difference and
    interval with questions as RESULTS prints them."""
    import re

    from likra.experiments.claims import judge_f

    record = committed(folder, "mass")
    verdict = judge_f(record)
    m = (re.search(r"difference (-?[0-9.]+) \[[^\]]*\]; with questions (\[[^\]]+\])", verdict.numbers)
         or re.search(r"difference (-?[0-9.]+) \(one seed; over questions only (\[[^\]]+\])\)", verdict.numbers))
    return record, verdict, m[1], m[2]
