"""Per-question outcomes kept in an experiment's record, so that an interval can count which questions
the test drew as well as which seeds trained the heads (stats.crossed_interval). For each (seed,
series, checkpoint) one character per test question, '1' right and '0' wrong, in the order of `ids`:
500 questions cost 500 bytes, so every checkpoint is kept."""

from __future__ import annotations

from likra.scoring.table import ScoreTable


def correct_bits(table: ScoreTable, rule: str, norm: str, checkpoint: str | None,
                 weight: float = 1.0) -> tuple[list[str], str]:
    """(question ids, '0'/'1' per question): the rule's pick at `weight` against the gold, as `accuracy`
    counts."""
    from likra.scoring.rules import predictions

    picks = predictions(table, rule, weight, norm, checkpoint)
    keys = sorted(picks)
    return ["/".join(k) for k in keys], "".join("1" if picks[k][0] == picks[k][1] else "0" for k in keys)


class Outcomes:
    """Collects one experiment's outcomes; every entry must be over the same questions."""

    def __init__(self) -> None:
        self.ids: list[str] | None = None
        self.entries: list[dict] = []

    def add(self, table: ScoreTable, rule: str, norm: str, checkpoint: str, /, weight: float | None = None,
            **keys) -> None:
        """The rule's outcomes at `checkpoint`, under `keys` (e.g. seed=0, rule="likra"); at w = 1, or at
        `weight` (then kept as the entry's "weight" key)."""
        ids, bits = correct_bits(table, rule, norm, checkpoint, 1.0 if weight is None else weight)
        if weight is not None:
            keys["weight"] = weight
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


def combination_matrix(record: dict, terms: list[tuple[float, int, dict]]) -> list[list[float]] | None:
    """Seeds x questions: sum of coef * outcome (1 right, 0 wrong) over `terms`, each (coef, examples,
    keys selecting the entry, e.g. {"rule": "likra"}), over the seeds that have every term, in seed
    order. None when the record keeps no outcomes (one written before they were kept) or no seed has
    them all."""
    kept = record.get("questions")
    if not kept:
        return None
    parts = [(coef, {e["seed"]: e["correct"] for e in kept["correct"]
                     if e["examples"] == examples and selects(e, match)}) for coef, examples, match in terms]
    seeds = sorted(set.intersection(*(set(bits) for _, bits in parts)))
    return [[sum(c * int(bits[s][q]) for c, bits in parts) for q in range(len(kept["ids"]))]
            for s in seeds] or None


def rise_matrix(record: dict, window: tuple[int, int], sel: dict,
                minus: dict | None = None) -> list[list[float]] | None:
    """Seeds x questions: the rise per added example over `window` (a -> b examples) of the outcome of
    the entries `sel` selects, less that of `minus`'s (e.g. Likra's rise beyond SFT's: claim (b)'s g-)."""
    a, b = window
    k = 1 / (b - a)
    terms = [(k, b, sel), (-k, a, sel)] + ([(-k, b, minus), (k, a, minus)] if minus else [])
    return combination_matrix(record, terms)


def difference_matrix(record: dict, examples: int, a: dict, b: dict) -> list[list[int]] | None:
    """Seeds x questions: a's outcome minus b's at `examples` (1, 0 or -1), over the seeds that have both,
    in seed order; `a` and `b` select entries by their keys (e.g. {"rule": "likra"}). None when the
    record keeps no outcomes."""
    return combination_matrix(record, [(1, examples, a), (-1, examples, b)])
