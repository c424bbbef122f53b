"""The columnar rules against the row-by-row ones they replaced: equal to the last bit, on random tables.

`naive_*` below is the code the rules were before the table went columnar (issue 12): it scans the
rows in Python for every accuracy. The random tables have 2-5 choices a question, discrete
log-likelihoods and lengths (so ties are common, also after normalisation and weighting), several
checkpoints and rows in shuffled order.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from likra.evaluate import available_rules, report
from likra.scoring import rules
from likra.scoring.matrix import NORMS, choice_matrix
from likra.scoring.rules import (RULES, Accuracy, accuracy, accuracy_sweep, choice_scores, correct_vector,
                                 predictions, wilson_interval)
from likra.scoring.table import BASE_CHECKPOINT, ScoreRow, ScoreTable, validate

WEIGHTS = [0.0, 0.3, 0.5, 1.0, 1.5, 2]
CHECKPOINTS = ("4", "16", "final")


# ---- the naive reference: the row-by-row rules as they were ----------------------------------------

def naive_select(table, head, checkpoint):
    return [r for r in table.rows
            if r.head == head and (head == "base" or checkpoint is None or r.checkpoint == checkpoint)]


def naive_normalised(row, norm):
    if norm == "none":
        return row.logprob
    denom = {"char": row.n_chars, "token": row.n_tokens, "byte": row.n_bytes}[norm]
    return row.logprob / max(denom, 1)


def naive_choice_scores(table, rule, weight=1.0, norm="char", checkpoint=None):
    heads, combine = RULES[rule]
    per_head = {}
    for head in heads:
        rows = naive_select(table, head, checkpoint)
        if not rows:
            raise ValueError(f"rule {rule!r} needs head {head!r} at checkpoint {checkpoint!r}, absent from the table")
        per_head[head] = {(r.benchmark, r.question_id, r.choice): r for r in rows}
    keys = set.intersection(*(set(d) for d in per_head.values()))
    out = {}
    for bench, qid, choice in sorted(keys):
        vals = {h: naive_normalised(per_head[h][(bench, qid, choice)], norm) for h in heads}
        scores, gold = out.setdefault((bench, qid), ([], -1))
        if choice != len(scores):
            raise ValueError(f"question {qid}: choice {choice} missing for some head")
        scores.append(combine(vals, weight))
        if per_head[heads[0]][(bench, qid, choice)].gold:
            out[(bench, qid)] = (scores, choice)
    return out


def naive_predictions(table, rule, weight=1.0, norm="char", checkpoint=None):
    return {key: (max(range(len(s)), key=lambda i: (s[i], -i)), gold)
            for key, (s, gold) in naive_choice_scores(table, rule, weight, norm, checkpoint).items()}


def naive_accuracy(table, rule, weight=1.0, norm="char", checkpoint=None):
    preds = naive_predictions(table, rule, weight, norm, checkpoint)
    correct = sum(p == g for p, g in preds.values())
    return Accuracy(rule, weight, norm, correct, len(preds), *wilson_interval(correct, len(preds)))


def naive_report(table, weights):
    rows = []
    for cp in table.checkpoints or ["-"]:
        for rule in available_rules(table):
            for w in (weights if "likra" in rule else (1.0,)):
                entry = {"checkpoint": cp, "rule": rule, "weight": w}
                for key, norm in (("acc", "none"), ("acc_norm", "char")):
                    a = naive_accuracy(table, rule, w, norm, None if cp == "-" else cp)
                    entry.update({key: a.acc, f"{key}_low": a.low, f"{key}_high": a.high, "n": a.n})
                rows.append(entry)
    return {"results": rows}


# ---- random tables ---------------------------------------------------------------------------------

def random_table(seed: int, n_questions: int = 24, checkpoints=CHECKPOINTS, heads=("pos", "neg")) -> ScoreTable:
    rng = random.Random(seed)
    ids = [(rng.choice(["arc_challenge", "hellaswag"]), f"q{i}") for i in range(n_questions)]
    ids += [("arc_challenge", "Q_é"), ("hellaswag", "q1"), ("arc_challenge", "q10"), ("arc_challenge", "q9")]
    ids = list(dict.fromkeys(ids))  # unique, in a scrambled order
    rng.shuffle(ids)
    rows = []
    for bench, qid in ids:
        k = rng.randint(2, 5)
        gold = rng.randrange(k)
        chars = [rng.choice([0, 1, 2, 4, 8]) for _ in range(k)]
        extra = [rng.choice([0, 0, 1]) for _ in range(k)]
        passes = [("base", BASE_CHECKPOINT)] + [(h, cp) for cp in checkpoints for h in heads]
        for head, cp in passes:
            for c in range(k):
                lp = -rng.choice([1.0, 2.0, 4.0]) if rng.random() < 0.85 else -rng.uniform(0, 20)
                rows.append(ScoreRow(qid, bench, c, head, cp, lp, rng.choice([1, 2, 4]), chars[c], chars[c] + extra[c],
                                     c == gold, rng.random() < 0.2))
    rng.shuffle(rows)
    table = ScoreTable(rows)
    validate(table)
    return table


@pytest.fixture(scope="module", params=[0, 1, 2])
def table(request):
    return random_table(request.param)


def _cases(table):
    for rule in RULES:
        for cp in (*table.checkpoints, None):
            for norm in NORMS:
                yield rule, cp, norm


def test_choice_scores_and_predictions_equal_the_row_by_row_rules(table):
    for rule, cp, norm in _cases(table):
        for w in WEIGHTS:
            want = naive_choice_scores(table, rule, w, norm, cp)
            assert choice_scores(table, rule, w, norm, cp) == want, (rule, cp, norm, w)
            assert list(choice_scores(table, rule, w, norm, cp)) == list(want)  # the same (sorted) order
            assert predictions(table, rule, w, norm, cp) == naive_predictions(table, rule, w, norm, cp)


def test_random_tables_have_ties():
    """The comparison above is only a test of tie-breaking if ties happen and the first choice wins them."""
    t = random_table(0)
    for rule, w, norm in [("base", 1.0, "none"), ("likra", 1.0, "none"), ("likra", 0.5, "char"),
                          ("base-likra", 1.5, "char")]:
        scores = naive_choice_scores(t, rule, w, norm, "4")
        picks = predictions(t, rule, w, norm, "4")
        tied = [key for key, (s, _) in scores.items() if s.count(max(s)) > 1 and s.index(max(s)) != len(s) - 1]
        assert len(tied) >= 2, (rule, w, norm)
        assert all(picks[k][0] == scores[k][0].index(max(scores[k][0])) for k in tied)


def test_accuracy_and_sweep_equal_the_row_by_row_rules(table):
    for rule, cp, norm in _cases(table):
        sweep = accuracy_sweep(table, rule, WEIGHTS, norm, cp)
        assert sweep == [accuracy(table, rule, w, norm, cp) for w in WEIGHTS]
        assert sweep == [naive_accuracy(table, rule, w, norm, cp) for w in WEIGHTS], (rule, cp, norm)
        assert all(type(a.correct) is int and type(a.n) is int for a in sweep)


def test_sweep_in_chunks_is_the_same(table, monkeypatch):
    whole = accuracy_sweep(table, "likra", WEIGHTS, "char", "16")
    monkeypatch.setattr(rules, "MAX_CELLS", 1)  # one weight at a time
    assert accuracy_sweep(table, "likra", WEIGHTS, "char", "16") == whole
    assert accuracy_sweep(table, "likra", [], "char", "16") == []


def test_correct_vector_is_per_question_correctness(table):
    for rule, cp, norm in _cases(table):
        keys, correct = correct_vector(table, rule, 0.5, norm, cp)
        preds = naive_predictions(table, rule, 0.5, norm, cp)
        assert keys == list(preds) and correct.dtype == bool
        assert correct.tolist() == [p == g for p, g in preds.values()]


def test_report_is_what_the_row_by_row_rules_gave(table):
    weights = (0.0, 0.5, 1.0, 1.5)
    rep = report(table, weights)
    assert rep == naive_report(table, weights)
    assert json.loads(json.dumps(rep)) == rep  # plain Python numbers, as results.json holds them


def test_report_of_a_base_only_table():
    t = ScoreTable(r for r in random_table(3) if r.head == "base")
    assert report(t, (0.5, 1.0)) == naive_report(t, (0.5, 1.0))
    assert [r["rule"] for r in report(t)["results"]] == ["base"]


# ---- the choice matrix itself ----------------------------------------------------------------------

def test_choice_matrix_layout(table):
    keys = sorted({(r.benchmark, r.question_id) for r in table})
    k = {(r.benchmark, r.question_id): 0 for r in table}
    for r in table:
        k[(r.benchmark, r.question_id)] = max(k[(r.benchmark, r.question_id)], r.choice + 1)
    for head, cp in [("base", None), ("base", "16"), ("pos", "4"), ("neg", "final")]:
        for norm in NORMS:
            m = choice_matrix(table, head, cp, norm)
            assert m.keys == keys and m.scores.dtype == np.float64 and m.scores.shape == (len(keys), max(k.values()))
            for i, key in enumerate(keys):
                assert np.isnan(m.scores[i, k[key]:]).all() and not np.isnan(m.scores[i, :k[key]]).any()
            for r in naive_select(table, head, cp):
                i = keys.index((r.benchmark, r.question_id))
                assert m.scores[i, r.choice] == naive_normalised(r, norm)
                assert (m.gold[i] == r.choice) == r.gold
    # base ignores the checkpoint; the arrays are cached, so they are read-only
    assert choice_matrix(table, "base", "4", "char") is choice_matrix(table, "base", None, "char")
    with pytest.raises(ValueError):
        choice_matrix(table, "pos", "4", "char").scores[0, 0] = 0.0


def test_missing_padding_is_never_picked():
    """A 2-choice question beside a 5-choice one: NaN padding is not a choice, whatever the scores."""
    rows = [ScoreRow("a", "t", c, "base", BASE_CHECKPOINT, -700.0 - c, 1, 1, 1, c == 1, False) for c in range(2)]
    rows += [ScoreRow("b", "t", c, "base", BASE_CHECKPOINT, -1.0, 1, 1, 1, c == 4, False) for c in range(5)]
    t = ScoreTable(rows)
    assert predictions(t, "base", norm="none") == {("t", "a"): (0, 1), ("t", "b"): (0, 4)}
    assert np.isnan(choice_matrix(t, "base", None, "none").scores[0, 2:]).all()


def test_extend_and_append_rebuild_the_columns():
    t = ScoreTable(r for r in random_table(4) if r.head == "base")
    before = accuracy(t, "base")
    t.extend(r for r in random_table(4) if r.head != "base")
    assert accuracy(t, "sft", checkpoint="4") == naive_accuracy(t, "sft", checkpoint="4")
    extra = [ScoreRow("new", "t", c, "base", BASE_CHECKPOINT, -1.0 - c, 1, 1, 1, c == 0, False) for c in range(2)]
    t.rows.extend(extra)  # not through extend(): the row count gives the change away
    assert accuracy(t, "base").n == before.n + 1 == naive_accuracy(t, "base").n


# ---- tables validate() would refuse: still what the row-by-row rules gave -------------------------

def test_duplicate_rows_the_later_one_wins():
    t = random_table(5, n_questions=6)
    dup = next(r for r in t.rows if r.head == "pos" and r.checkpoint == "4")
    t.extend([replace(dup, logprob=-0.01)])
    for cp in ("4", None):  # None: every checkpoint's rows, the later row winning
        for rule in ("sft", "likra"):
            assert choice_scores(t, rule, 1.0, "none", cp) == naive_choice_scores(t, rule, 1.0, "none", cp)
            assert accuracy(t, rule, 1.0, "none", cp) == naive_accuracy(t, rule, 1.0, "none", cp)


def test_a_question_missing_under_one_head_is_left_out():
    t = random_table(6, n_questions=6)
    gone = t.rows[0].benchmark, t.rows[0].question_id
    t = ScoreTable(r for r in t if not (r.head == "neg" and (r.benchmark, r.question_id) == gone))
    assert gone not in choice_scores(t, "likra", 1.0, "char", "4") and gone in choice_scores(t, "sft", 1.0, "char", "4")
    assert accuracy(t, "likra", 1.0, "char", "4") == naive_accuracy(t, "likra", 1.0, "char", "4")
    assert correct_vector(t, "likra", 1.0, "char", "4")[0] == list(naive_predictions(t, "likra", 1.0, "char", "4"))


def test_a_missing_choice_is_the_same_error():
    t = random_table(7, n_questions=6)
    r = next(r for r in sorted(t.rows, key=lambda r: (r.benchmark, r.question_id)) if r.head == "neg" and r.choice == 1)
    t = ScoreTable(x for x in t if x is not r)
    with pytest.raises(ValueError) as naive:
        naive_choice_scores(t, "likra", 1.0, "char", r.checkpoint)
    with pytest.raises(ValueError, match="missing for some head") as columnar:
        accuracy(t, "likra", 1.0, "char", r.checkpoint)
    assert str(columnar.value) == str(naive.value)


def test_no_gold_row_is_never_correct():
    rows = [ScoreRow("a", "t", c, "base", BASE_CHECKPOINT, -1.0 - c, 1, 1, 1, False, False) for c in range(3)]
    t = ScoreTable(rows)
    assert predictions(t, "base", norm="none") == naive_predictions(t, "base", norm="none") == {("t", "a"): (0, -1)}
    assert accuracy(t, "base").correct == 0 and choice_matrix(t, "base", None, "none").gold.tolist() == [-1]


def test_errors_name_the_missing_head():
    t = random_table(8, n_questions=4)
    for call in (lambda: accuracy(t, "likra", checkpoint="99"), lambda: accuracy_sweep(t, "sft", [1.0], "char", "99"),
                 lambda: correct_vector(t, "base-likra", 1.0, "char", "99")):
        with pytest.raises(ValueError, match="needs head '(pos|neg)' at checkpoint '99', absent from the table"):
            call()
    base_only = ScoreTable(r for r in t if r.head == "base")
    with pytest.raises(ValueError, match="needs head 'neg' at checkpoint None"):
        accuracy(base_only, "base-likra")
    with pytest.raises(ValueError, match="unknown norm"):
        accuracy(t, "base", norm="word")
    assert math.isnan(Accuracy("base", 1.0, "none", 0, 0, math.nan, math.nan).acc)
