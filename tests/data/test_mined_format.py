"""The user format's `negatives` (docs/DATA_FORMAT.md, "Negatives"): parsed onto Question.negatives,
checked with file:line:field errors, free-form rows, and the 'mined' negative kind that trains on them."""

from __future__ import annotations

import pytest

from likra.config import DataConfig
from likra.data.benchmarks import load_user_file
from likra.data.negatives import negative_pairs, positive_pairs
from likra.data.questions import DataError, Question, normalise_answer
from likra.errors import ConfigError


def test_jsonl_negatives_are_carried_on_the_question(write, tmp_path):
    path = write(tmp_path / "n.jsonl",
                 '{"question": "7 x 8?", "choices": ["54", "56"], "answer": 1, "negatives": [" 58 ", "fifty"]}\n'
                 '{"question": "Gas?", "choices": ["oxygen", "carbon dioxide"], "answer": 1}\n')
    a, b = load_user_file(path)
    assert a.negatives == ("58", "fifty") and a.choices == ("54", "56") and a.gold == 1
    assert b.negatives == ()


def test_free_form_row_with_negatives_has_its_answer_as_only_choice(write, tmp_path):
    path = write(tmp_path / "f.jsonl", '{"id": "g", "question": "Gas?", "answer": " carbon dioxide ", '
                                       '"negatives": ["oxygen"]}\n')
    (q,) = load_user_file(path)
    assert (q.id, q.choices, q.gold, q.negatives) == ("g", ("carbon dioxide",), 0, ("oxygen",))
    assert q.context == "Question: Gas?\nAnswer:"
    assert positive_pairs([q])[0].answer == " carbon dioxide"


def test_csv_negatives_are_a_json_list_cell(write, tmp_path):
    path = write(tmp_path / "n.csv", 'question,choices,answer,negatives\n'
                                     'Gas?,,carbon dioxide,"[""oxygen"", ""nitrogen gas""]"\n'
                                     'Sum?,"[""3"", ""4""]",1,\n')
    a, b = load_user_file(path)
    assert (a.choices, a.negatives) == (("carbon dioxide",), ("oxygen", "nitrogen gas"))
    assert (b.choices, b.gold, b.negatives) == (("3", "4"), 1, ())


def test_csv_choice_columns_left_empty_make_a_free_form_row(write, tmp_path):
    path = write(tmp_path / "c.csv", 'question,choice1,choice2,answer,negatives\nGas?,,,CO2,"[""O2""]"\n')
    (q,) = load_user_file(path)
    assert (q.choices, q.negatives) == (("CO2",), ("O2",))


def test_a_row_without_choices_or_negatives_is_still_an_error(write, tmp_path, assert_located):
    path = write(tmp_path / "m.jsonl", '{"question": "Gas?", "answer": "CO2"}\n')
    with pytest.raises(DataError, match="missing field") as e:
        load_user_file(path)
    assert_located(e.value, path, 1, "choices")
    path = write(tmp_path / "e.jsonl", '{"question": "Gas?", "answer": "CO2", "negatives": []}\n')
    with pytest.raises(DataError, match="missing field"):
        load_user_file(path)  # an empty list is no negatives


@pytest.mark.parametrize("negatives, field, message", [
    ('"oxygen"', "negatives", "wrong type: negatives must be a list"),
    ('{"a": 1}', "negatives", "wrong type: negatives must be a list"),
    ('["oxygen", 3]', "negatives", "wrong type: negative 1 is not a string"),
    ('["oxygen", null]', "negatives", "wrong type: negative 1 is not a string"),
    ('["oxygen", "  "]', "negatives", "empty negative: negative 1 is empty"),
    ('["oxygen", " oxygen"]', "negatives", "duplicate negative: negative 1"),
    ('["The Carbon-Dioxide."]', "negatives", "negative equals the gold answer: negative 0"),
    ('["ok", "\\ud800"]', "negatives", "not UTF-8"),
])
def test_bad_negatives_are_located(write, tmp_path, assert_located, negatives, field, message):
    for choices in ('"choices": ["oxygen x", "carbon dioxide"], "answer": 1, ', '"answer": "carbon dioxide", '):
        path = write(tmp_path / "b.jsonl", '{"question": "ok?", "choices": ["a", "b"], "answer": 0}\n'
                                           f'{{"question": "Gas?", {choices}"negatives": {negatives}}}\n')
        with pytest.raises(DataError) as e:
            load_user_file(path)
        assert e.value.reason.startswith(message)
        assert_located(e.value, path, 2, field)


def test_free_form_answer_must_be_text(write, tmp_path, assert_located):
    path = write(tmp_path / "i.jsonl", '{"question": "Gas?", "answer": 1, "negatives": ["x"]}\n')
    with pytest.raises(DataError, match="wrong type: without choices") as e:
        load_user_file(path)
    assert_located(e.value, path, 1, "answer")


def test_csv_bad_negatives_cell_is_invalid_json(write, tmp_path, assert_located):
    path = write(tmp_path / "j.csv", 'question,answer,negatives\nGas?,CO2,[oops\n')
    with pytest.raises(DataError, match="invalid JSON") as e:
        load_user_file(path)
    assert_located(e.value, path, 2, "negatives")


def test_lenient_skips_rows_with_bad_negatives(write, tmp_path):
    path = write(tmp_path / "l.jsonl", '{"question": "a?", "answer": "x", "negatives": ["X."]}\n'
                                       '{"question": "b?", "answer": "y", "negatives": ["z"]}\n')
    qs = load_user_file(path, lenient=True)
    assert [q.query for q in qs] == ["b?"] and qs.skipped.count == 1
    assert "negative equals the gold answer" in qs.skipped.examples[0]


@pytest.mark.parametrize("text, key", [
    ("The Sun.", "sun"), ("  an   Apple-pie ", "apple pie"), ("Theory", "theory"), ("A", ""),
    ("CARBON dioxide!", "carbon dioxide"), ("the the", ""), ("Straße", "strasse"),
])
def test_normalise_answer(text, key):
    assert normalise_answer(text) == key


def _free(qid: str, answer: str, negatives: tuple[str, ...]) -> Question:
    return Question(qid, "user:x", f"Question: {qid}?\nAnswer:", (answer,), 0, query=f"{qid}?", negatives=negatives)


def test_mined_kind_draws_the_questions_own_negatives():
    qs = [_free("a", "sun", ("moon", "a rock", "stars")), _free("b", "water", ("oil",))]
    pairs = negative_pairs(qs, "mined", seed=0)
    assert [p.source_id for p in pairs] == ["a", "b"]
    for q, p in zip(qs, pairs):
        assert (p.context, p.kind, p.positive) == (q.context_for(q.gold), "mined", False)
        assert p.answer[1:] in q.negatives and p.answer.startswith(" ")
    assert negative_pairs(qs, "mined", seed=0) == pairs  # seeded
    assert {negative_pairs(qs, "mined", seed=s)[0].answer for s in range(30)} == {" moon", " a rock", " stars"}
    two = negative_pairs(qs, "mined", seed=1, per_question=2)
    assert [p.source_id for p in two] == ["a", "a", "b"] and len({p.answer for p in two[:2]}) == 2


def test_mined_kind_names_a_question_without_negatives(mcq):
    with pytest.raises(DataError, match="question q1: no mined negatives") as e:
        negative_pairs([_free("a", "sun", ("moon",)), mcq("q1", ("x", "y"), 0)], "mined", seed=0)
    assert e.value.field == "negatives"


def test_near_miss_on_a_free_form_question_points_to_mined():
    with pytest.raises(DataError, match="use negative kind 'mined'"):
        negative_pairs([_free("a", "sun", ("moon",))], "near-miss", seed=0)


def test_question_refuses_empty_negatives():
    with pytest.raises(DataError, match="non-empty strings"):
        _free("a", "sun", ("moon", " "))


def test_data_config_mined_needs_a_user_file():
    assert DataConfig(user_file="m.jsonl", negative_kind="mined").negative_kind == "mined"
    with pytest.raises(ConfigError, match="only a user file") as e:
        DataConfig(negative_kind="mined")
    assert e.value.field == "data.negative_kind"
    with pytest.raises(ConfigError, match="negative_strategy"):
        DataConfig(user_file="m.jsonl", negative_kind="mined", negative_strategy="hardest")
