"""`negatives` pairs every kind's negative head with the curve's positive head checkpoint by checkpoint;
a negative head whose data is smaller (mined: only questions with a wrong sample) ends where the positive
head saved nothing, and its final checkpoint pairs with the positive head's final one."""

from __future__ import annotations

from likra.experiments.negatives import final_pair, paired
from likra.scoring.table import ScoreRow, ScoreTable


def table(head: str, checkpoints: list[str], questions: int = 3) -> ScoreTable:
    rows = [ScoreRow(f"q{q}", "arc_challenge", c, "base", "-", -1.0 - c, 2, 5, 5, c == 0, False)
            for q in range(questions) for c in range(2)]
    rows += [ScoreRow(f"q{q}", "arc_challenge", c, head, cp, -float(i + 1) * (1 + c), 2, 5, 5, c == 0, False)
             for i, cp in enumerate(checkpoints) for q in range(questions) for c in range(2)]
    return ScoreTable(rows)


def test_heads_are_paired_at_the_checkpoints_both_saved():
    t = paired(table("pos", ["1", "2", "4"]), table("neg", ["1", "2", "4"]))
    assert t.checkpoints == ["1", "2", "4"] and final_pair(table("pos", ["1", "2"]), table("neg", ["1", "2"])) is None


def test_a_negative_head_that_ends_early_pairs_its_final_checkpoint_with_the_positive_heads():
    pos, neg = table("pos", ["1", "2", "4", "8"]), table("neg", ["1", "2", "4", "7"])
    assert final_pair(pos, neg) == ("7", "8")
    t = paired(pos, neg)
    assert t.checkpoints == ["1", "2", "4", "8"]
    at_8 = sorted(r.logprob for r in t.select("neg", "8"))
    assert at_8 == sorted(r.logprob for r in neg.select("neg", "7"))  # the 7-example head, under 8
    assert len(t.select("pos", "8")) == len(pos.select("pos", "8"))


def test_a_head_that_saved_past_the_other_is_cut_at_the_common_checkpoints():
    # the positive head saved at 7 too: no renaming, the pair ends at the last count both have
    pos, neg = table("pos", ["1", "2", "4", "7", "8"]), table("neg", ["1", "2", "4", "7"])
    assert final_pair(pos, neg) is None and paired(pos, neg).checkpoints == ["1", "2", "4", "7"]
