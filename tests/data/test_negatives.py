"""Training pairs: each negative kind is what it claims, everything is seeded; the leak check."""

from __future__ import annotations

import pytest

from likra.data.negatives import TrainingPair, borrowed_answer, exclude_leaks, negative_pairs, positive_pairs, sample
from likra.data.questions import DataError, Question, normalise_text


def _gold(q: Question) -> str:
    return q.continuation(q.gold)


def test_positive_pairs_are_gold_answers(toy_questions):
    pairs = positive_pairs(toy_questions)
    assert len(pairs) == len(toy_questions)
    for q, p in zip(toy_questions, pairs):
        assert p == TrainingPair(q.context, _gold(q), True, "positive", q.id)


def test_near_miss_is_a_wrong_choice_of_the_same_question(toy_questions):
    pairs = negative_pairs(toy_questions, "near-miss", seed=0)
    assert len(pairs) == len(toy_questions)  # one per question: balanced with the positives
    for q, p in zip(toy_questions, pairs):
        wrong = {q.continuation(i) for i in range(len(q.choices)) if i != q.gold}
        assert p.source_id == q.id and p.context == q.context and not p.positive and p.kind == "near-miss"
        assert p.answer in wrong


def test_near_miss_skips_wrong_choices_equal_to_gold(mcq):
    q = mcq("d", ("same", "same", "other"), 0)
    assert {negative_pairs([q], "near-miss", seed=s)[0].answer for s in range(20)} == {" other"}
    with pytest.raises(DataError, match="no wrong choice differs"):
        negative_pairs([mcq("e", ("x", "x"), 0)], "near-miss", seed=0)


def test_winogrande_style_near_miss_uses_the_wrong_context():
    q = Question("w", "winogrande", "Ann beat Bo so ", ("won.", "won."), 0,
                 choice_contexts=("Ann beat Bo so Ann", "Ann beat Bo so Bo"), query="Ann beat Bo so _ won.")
    (p,) = negative_pairs([q], "near-miss", seed=1)
    assert (p.context, p.answer) == ("Ann beat Bo so Bo", " won.")
    assert positive_pairs([q])[0].context == "Ann beat Bo so Ann"


def test_hardest_and_easiest_choose_by_scores(toy_questions):
    q = toy_questions[1]  # gold is choice 1
    scores = {q.id: [-3.0, 0.0, -1.0, -5.0]}
    hardest = negative_pairs([q], "near-miss", 0, strategy="hardest", choice_scores=scores)
    easiest = negative_pairs([q], "near-miss", 0, strategy="easiest", choice_scores=scores)
    assert hardest[0].answer == q.continuation(2)  # highest-scoring wrong choice, never the gold
    assert easiest[0].answer == q.continuation(3)
    two = negative_pairs([q], "near-miss", 0, strategy="hardest", choice_scores=scores, per_question=2)
    assert [p.answer for p in two] == [q.continuation(2), q.continuation(0)]


def test_score_strategies_need_scores(toy_questions):
    with pytest.raises(ValueError, match="need choice_scores"):
        negative_pairs(toy_questions, "near-miss", 0, strategy="hardest")
    with pytest.raises(DataError, match="no choice scores for question 'q1'"):
        negative_pairs(toy_questions[:2], "near-miss", 0, strategy="easiest", choice_scores={"q0": [0, 1, 2, 3]})
    with pytest.raises(DataError, match="3 scores for 4 choices"):
        negative_pairs(toy_questions[:1], "near-miss", 0, strategy="easiest", choice_scores={"q0": [0, 1, 2]})
    with pytest.raises(ValueError, match="only applies to near-miss"):
        negative_pairs(toy_questions, "irrelevant", 0, strategy="hardest", choice_scores={})
    with pytest.raises(ValueError, match="unknown negative kind"):
        negative_pairs(toy_questions, "nearmiss", 0)


def test_irrelevant_is_another_questions_gold(toy_questions):
    golds = {q.choices[q.gold]: q.id for q in toy_questions}
    for q, p in zip(toy_questions, negative_pairs(toy_questions, "irrelevant", seed=3)):
        text = p.answer[1:]
        assert p.answer.startswith(" ") and p.kind == "irrelevant" and p.context == q.context
        assert text in golds and golds[text] != q.id and text not in q.choices


def test_irrelevant_never_reuses_an_answer_among_own_choices(mcq):
    qs = [mcq("a", ("x", "y"), 0), mcq("b", ("y", "x"), 0), mcq("c", ("z", "w"), 0)]
    for seed in range(10):
        pairs = negative_pairs(qs, "irrelevant", seed)
        assert [p.answer for p in pairs[:2]] == [" z", " z"]  # x and y are their own choices
    with pytest.raises(DataError, match="no irrelevant answer available"):
        negative_pairs([mcq(f"l{i}", ("A", "B"), i % 2) for i in range(4)], "irrelevant", 0)


def test_unrelated_comes_from_the_pool(toy_questions, mcq):
    pool = [mcq(f"p{i}", (f"pool-{i}", "nope"), 0, benchmark="other") for i in range(5)]
    for q, p in zip(toy_questions, negative_pairs(toy_questions, "unrelated", 7, unrelated_pool=pool)):
        assert p.answer in {f" pool-{i}" for i in range(5)} and p.source_id == q.id and p.kind == "unrelated"
    with pytest.raises(ValueError, match="unrelated_pool"):
        negative_pairs(toy_questions, "unrelated", 7)


def test_borrowed_answers_shed_their_benchmarks_spacing_only_across_benchmarks(mcq):
    spaced = [mcq(f"p{i}", (f" ending {i} ", "nope"), 0, benchmark="other") for i in range(3)]
    qs = [mcq("a", ("x", "y"), 0), mcq("b", (" z", "w"), 0)]
    unrelated = negative_pairs(qs, "unrelated", 0, unrelated_pool=spaced)
    assert {p.answer for p in unrelated} <= {f" ending {i}" for i in range(3)}
    # within one benchmark the answer keeps its text: that spacing is how the benchmark scores it
    assert negative_pairs(qs, "irrelevant", 0)[0].answer == "  z"
    assert borrowed_answer(spaced[0], qs[0]) == "ending 0" and borrowed_answer(qs[1], qs[0]) == " z"


@pytest.mark.parametrize("kind", ["near-miss", "irrelevant", "unrelated"])
def test_seeded(toy_questions, mcq, kind):
    pool = [mcq(f"p{i}", (f"pool-{i}", "nope"), 0, benchmark="other") for i in range(20)]
    runs = {s: negative_pairs(toy_questions, kind, s, unrelated_pool=pool) for s in (1, 1, 2)}
    assert negative_pairs(toy_questions, kind, 1, unrelated_pool=pool) == runs[1]
    assert runs[1] != runs[2]


def test_real_arc_negatives(real):
    qs = real("arc_challenge", "train").questions
    golds = {_gold(q) for q in qs}
    for kind in ("near-miss", "irrelevant"):
        pairs = negative_pairs(qs, kind, seed=0)
        assert len(pairs) == len(qs) and all(p.answer != _gold(q) for q, p in zip(qs, pairs))
    assert all(p.answer in golds for p in pairs)  # the irrelevant ones
    hs = real("hellaswag", "validation").questions
    unrelated = negative_pairs(qs[:100], "unrelated", 0, unrelated_pool=hs)
    assert {p.answer for p in unrelated} <= {" " + q.choices[q.gold].strip() for q in hs}
    # a quarter of HellaSwag's endings start with a space; borrowed, none makes a double space
    assert any(q.choices[q.gold].startswith(" ") for q in hs)
    assert not any(p.answer.startswith("  ") for p in unrelated)


def test_leak_check_by_id_family_and_text(mcq):
    train = [mcq("a", ("x", "y"), 0, "arc"), mcq("b", ("x", "y"), 0, "arc", query="Same text?"),
             mcq("c", ("x", "y"), 0, "arc"), mcq("a", ("x", "y"), 0, "hellaswag", query="Other?")]
    evaluation = [mcq("a", ("x", "y"), 0, "arc_challenge"), mcq("z", ("x", "y"), 0, "arc_challenge", "same  TEXT")]
    kept, report = exclude_leaks(train, evaluation)
    # 'a' in arc matches arc_challenge's 'a' (one family); hellaswag's 'a' is another family.
    assert [(q.benchmark, q.id) for q in kept] == [("arc", "c"), ("hellaswag", "a")]
    assert (report.by_id, report.by_text, report.removed, report.kept) == (1, 1, 2, 2)
    assert "1 by id, 1 by text" in str(report) and "b -> z (text)" in str(report)
    assert len(exclude_leaks(train, evaluation, match_text=False)[0]) == 3


def test_leak_check_on_real_arc(real):
    train, test = real("arc", "all").questions, real("arc_challenge", "test").questions
    kept, report = exclude_leaks(train, test)
    assert report.by_id == 1172 and len(train) - report.by_id == 6615  # the paper's 7787 - 1172
    assert report.by_text == 11 and len(kept) == 6604  # re-issued / generic stems under other ids
    test_texts = {normalise_text(q.query) for q in test}
    assert not any(normalise_text(q.query) in test_texts for q in kept)
    assert len(exclude_leaks(train, test, match_text=False)[0]) == 6615


def test_sample_is_seeded_and_keeps_order(toy_questions):
    a = sample(toy_questions, 4, seed=5)
    assert a == sample(toy_questions, 4, seed=5) and a != sample(toy_questions, 4, seed=6)
    assert len(a) == 4 and [toy_questions.index(q) for q in a] == sorted(toy_questions.index(q) for q in a)
    assert sample(toy_questions, 99, seed=0) == toy_questions == sample(toy_questions, None, seed=0)
    with pytest.raises(ValueError):
        sample(toy_questions, -1, seed=0)
