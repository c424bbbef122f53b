"""Per-question outcomes kept in an experiment's record, so that an interval can count which questions
the test drew as well as which seeds trained the heads (stats.crossed_interval). For each (seed,
series, checkpoint) one character per test question, '1' right and '0' wrong, in the order of `ids`:
500 questions cost 500 bytes, so every checkpoint is kept."""

from __future__ import annotations

from likra.scoring.table import ScoreTable


def correct_bits(table: ScoreTable, rule: str, norm: str, checkpoint: str | None) -> tuple[list[str], str]:
    """(question ids, '0'/'1' per question): the rule's pick at w = 1 against the gold, as `accuracy` counts."""
    from likra.scoring.rules import predictions

    picks = predictions(table, rule, 1.0, norm, checkpoint)
    keys = sorted(picks)
    return ["/".join(k) for k in keys], "".join("1" if picks[k][0] == picks[k][1] else "0" for k in keys)


class Outcomes:
    """Collects one experiment's outcomes; every entry must be over the same questions."""

    def __init__(self) -> None:
        self.ids: list[str] | None = None
        self.entries: list[dict] = []

    def add(self, table: ScoreTable, rule: str, norm: str, checkpoint: str, /, **keys) -> None:
        ids, bits = correct_bits(table, rule, norm, checkpoint)
        if self.ids is None:
            self.ids = ids
        elif ids != self.ids:
            raise ValueError(f"outcomes of {keys} are over other questions than the first entry's")
        self.entries.append({**keys, "examples": int(checkpoint), "correct": bits})

    def record(self) -> dict:
        return {"ids": self.ids or [], "correct": self.entries}


def selects(row: dict, keys: dict) -> bool:
    """Whether `row` has every one of `keys` with its value (e.g. {"rule": "likra"})."""
    return all(row.get(k) == v for k, v in keys.items())


def difference_matrix(record: dict, examples: int, a: dict, b: dict) -> list[list[int]] | None:
    """Seeds x questions: a's outcome minus b's at `examples` (1, 0 or -1), over the seeds that have both,
    in seed order; `a` and `b` select entries by their keys (e.g. {"rule": "likra"}). None when the
    record keeps no outcomes (one written before they were kept)."""
    kept = record.get("questions")
    if not kept:
        return None

    def bits(match: dict) -> dict[int, str]:
        return {e["seed"]: e["correct"] for e in kept["correct"]
                if e["examples"] == examples and selects(e, match)}

    left, right = bits(a), bits(b)
    return [[int(x) - int(y) for x, y in zip(left[s], right[s])] for s in sorted(left) if s in right] or None
