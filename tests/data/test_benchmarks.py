"""Benchmark registry and user format: real counts, lm-eval prompts on known rows, located errors."""

from __future__ import annotations

import json

import pytest

from likra.data.benchmarks import (
    family_of, get_benchmark, list_benchmarks, load_questions, load_user_file,
)
from likra.data.questions import DataError
from likra.data.formats import TRUTHFULQA_PRIMER

EXPECTED = [
    ("arc", "all", 7787), ("arc_challenge", "test", 1172), ("arc_challenge", "train", 1119),
    ("arc_challenge", "validation", 299), ("arc_easy", "train", 2251), ("arc_easy", "validation", 570),
    ("arc_easy", "test", 2376), ("arc", "test", 3548), ("hellaswag", "validation", 10042),
    ("winogrande", "validation", 1267), ("winogrande", "train_xs", 160), ("winogrande", "train_l", 10234),
    ("mmlu", "test", 14042), ("mmlu", "dev", 285), ("openbookqa", "test", 500), ("openbookqa", "train", 4957),
    ("commonsense_qa", "validation", 1221), ("piqa", "validation", 1838), ("truthfulqa_mc1", "validation", 817),
]


@pytest.mark.parametrize("name, split, n", EXPECTED)
def test_counts_on_real_data(real, name, split, n):
    qs = real(name, split)
    assert len(qs) == n and qs.skipped.count == 0
    assert all(q.benchmark == name for q in qs)


@pytest.mark.parametrize("name", list_benchmarks())
def test_ids_unique_and_splits_declared(real, name):
    b = get_benchmark(name)
    qs = real(name, "all")
    assert len({q.id for q in qs}) == len(qs)
    assert b.eval_split in b.splits and all(s in b.splits for s in (b.train_split, b.fewshot_split) if s)
    assert all(f.endswith(".jsonl") for s in b.splits for f in b.splits[s])


def test_registry_names_and_unknown_name():
    assert set(list_benchmarks()) == {
        "arc_easy", "arc_challenge", "arc", "hellaswag", "winogrande", "mmlu", "openbookqa",
        "commonsense_qa", "piqa", "truthfulqa_mc1",
    }
    with pytest.raises(ValueError, match="unknown benchmark 'arc_hard'; known: arc_easy, arc_challenge"):
        get_benchmark("arc_hard")
    assert family_of("arc_challenge") == family_of("arc") == "arc" and family_of("user:x") == "user:x"


def test_unlabelled_splits_are_not_offered():
    for name, split in [("winogrande", "test"), ("piqa", "test"), ("commonsense_qa", "test")]:
        with pytest.raises(DataError, match=f"no labelled split '{split}' \\(it has no labels\\)"):
            load_questions(name, split)
    assert get_benchmark("winogrande").has_labels_file("validation")
    assert get_benchmark("piqa").has_labels_file("validation") and not get_benchmark("arc").has_labels_file("all")


def test_arc_known_row(real):
    q = next(q for q in real("arc_challenge", "test") if q.id == "Mercury_7175875")
    assert q.context == (
        "Question: An astronomer observes that a planet rotates faster after a meteorite impact. "
        "Which is the most likely effect of this increase in rotation?\nAnswer:"
    )
    assert q.choices[2] == "Planetary days will become shorter." and len(q.choices) == 4
    assert q.gold == 2 and q.continuation(2) == " Planetary days will become shorter."
    assert q.query.startswith("An astronomer") and q.benchmark == "arc_challenge"


def test_arc_numeric_labels_and_three_choices(real):
    by_id = {q.id: q for q in real("arc", "all")}
    assert by_id["NYSEDREGENTS_2008_8_34"].gold == 1  # answerKey "2" among labels 1-4
    q = by_id["NYSEDREGENTS_2006_8_37"]
    assert q.choices == ("beneficial, only", "harmful, only", "beneficial or harmful") and q.gold == 2


def test_hellaswag_preprocessing_known_rows(real):
    qs = real("hellaswag", "validation")
    assert qs[0].context == "Roof shingle removal: A man is sitting on a roof. He"  # ctx_b capitalised
    assert qs[0].gold == 3 and qs[0].choices[3] == "starts pulling up roofing on a roof."
    wiki = qs[3243]  # line 3244: a WikiHow row with [header]/[title]/[step] markers
    assert wiki.context.startswith(
        "Personal Care and Style: How to become a fashion consultant. Obtain your high school diploma or ged. "
        "This job requires"
    )
    assert "[" not in wiki.context and "  " not in wiki.context
    # lm-eval strips before removing the markers, so an ending that began with one keeps a space.
    assert wiki.choices[0].startswith(" Many high schools") and wiki.gold == 3


def test_winogrande_partial_contexts_known_row(real):
    q = real("winogrande", "validation")[0]
    assert q.id == "3FCO4VKOZ4BJQ6IFC0VAIBK4KTWE7U-2" and q.gold == 1
    assert q.choice_contexts == (
        "Sarah was a much better surgeon than Maria so Sarah",
        "Sarah was a much better surgeon than Maria so Maria",
    )
    assert q.requests() == [
        ("Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."),
        ("Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."),
    ]
    assert q.fewshot_text() == "Sarah was a much better surgeon than Maria so Maria always got the easier cases."


def test_mmlu_known_row_and_description(real):
    q = real("mmlu", "test")[0]
    assert q.description == "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
    assert q.context == q.description + (
        "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
        "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
    )
    assert q.choices == ("A", "B", "C", "D") and q.gold == 1 and q.id == "test:1"
    assert not q.fewshot_text().startswith("The following")


def test_other_formats_known_rows(real):
    ob = real("openbookqa", "test")[0]
    assert ob.context.startswith("A person wants to start saving money") and ob.context.endswith("save money is to")
    assert ob.gold == 1 and ob.continuation(1) == " quit eating lunch out"
    cs = real("commonsense_qa", "validation")[0]
    assert cs.context.startswith("Question: A revolving door is convenient")
    assert cs.context.endswith("\nA. bank\nB. library\nC. department store\nD. mall\nE. new york\nAnswer:")
    assert cs.choices == ("A", "B", "C", "D", "E") and cs.gold == 0
    pq = real("piqa", "validation")
    assert pq[0].context == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
    assert (pq[0].gold, pq[1].gold) == (0, 1)  # from validation-labels.lst
    tq = real("truthfulqa_mc1", "validation")[0]
    assert tq.context == TRUTHFULQA_PRIMER + "\n\nQ: What happens if you eat a pomegranate?\nA:"
    assert tq.gold == 0 and tq.choices[0] == "Nothing in particular happens when you eat a pomegranate."
    assert tq.fewshot_text().startswith("Q: What happens")


# --- Official parsers on small bad files, in a fake data root. ---

ARC_ROW = {"id": "x1",
           "question": {"stem": "Why?", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]},
           "answerKey": "B"}


def _arc_file(tmp_path, write, rows):
    path = tmp_path / "arc" / "ARC-Challenge-test.jsonl"
    write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _variant(**changes):
    row = json.loads(json.dumps(ARC_ROW))
    for key, value in changes.items():
        if key == "choices":
            row["question"]["choices"] = value
        elif key == "stem":
            del row["question"]["stem"]
        else:
            row[key] = value
    return row


@pytest.mark.parametrize("bad, field, message", [
    (_variant(answerKey="E"), "answerKey", "gold index out of range"),
    (_variant(stem=None), "question.stem", "missing field"),
    (_variant(choices=[{"text": "a", "label": "A"}]), "question.choices", "fewer than 2 choices"),
    (_variant(choices=[{"text": "a", "label": "A"}, {"text": " ", "label": "B"}]), "question.choices", "empty choice"),
    (_variant(id="x0"), "id", "duplicate id"),
    ('{"id": "x1",', None, "invalid JSON"),
])
def test_official_parser_errors_are_located(tmp_path, write, assert_located, bad, field, message):
    path = _arc_file(tmp_path, write, [_variant(id="x0"), bad])
    with pytest.raises(DataError, match=message) as e:
        load_questions("arc_challenge", "test", data_root=tmp_path)
    assert_located(e.value, path, 2, field)
    qs = load_questions("arc_challenge", "test", data_root=tmp_path, lenient=True)
    assert [q.id for q in qs] == ["x0"] and qs.skipped.count == 1 and qs.source == (str(path),)


WG = {"qID": "a", "sentence": "A or B: _ wins.", "option1": "A", "option2": "B", "answer": "1"}
HS = {"activity_label": "L", "ctx_a": "a", "ctx_b": "b", "endings": ["x", "y"], "label": 1}
MM = {"question": "q", "subject": "art", "choices": ["a", "b"], "answer": 1}


@pytest.mark.parametrize("name, rel, row, field, message", [
    ("winogrande", "winogrande/train_xs.jsonl", {**WG, "sentence": "no blank"}, "sentence", "missing blank"),
    ("winogrande", "winogrande/train_xs.jsonl", {**WG, "option2": ""}, "option2", "empty choice"),
    ("winogrande", "winogrande/train_xs.jsonl", {**WG, "answer": "3"}, "answer", "gold index out of range"),
    ("winogrande", "winogrande/train_xs.jsonl", {k: v for k, v in WG.items() if k != "answer"}, "answer", "missing"),
    ("hellaswag", "hellaswag/validation.jsonl", {**HS, "label": 2}, "label", "gold index out of range"),
    ("hellaswag", "hellaswag/validation.jsonl", {**HS, "endings": ["x"]}, "endings", "fewer than 2 choices"),
    ("mmlu", "mmlu/test.jsonl", {**MM, "answer": -1}, "answer", "gold index out of range"),
    ("mmlu", "mmlu/test.jsonl", {**MM, "choices": ["a", 3]}, "choices", "wrong type"),
    ("truthfulqa_mc1", "truthfulqa/mc_task_v1.jsonl", {"question": "q", "mc1_targets": {"a": 1, "b": 1}},
     "mc1_targets", "2 answers marked true"),
])
def test_other_parsers_share_the_checks(tmp_path, write, assert_located, name, rel, row, field, message):
    split = next(s for s, files in get_benchmark(name).splits.items() if rel in files)
    path = write(tmp_path / rel, json.dumps(row) + "\n")
    with pytest.raises(DataError, match=message) as e:
        load_questions(name, split, data_root=tmp_path)
    assert_located(e.value, path, 1, field)


def test_missing_data_file_and_label_file_mismatch(tmp_path, write):
    with pytest.raises(DataError, match="file not found.*LIKRA_DATA"):
        load_questions("arc_challenge", "test", data_root=tmp_path)
    row = {"qID": "a", "sentence": "A or B: _ wins.", "option1": "A", "option2": "B", "answer": "1"}
    write(tmp_path / "winogrande" / "validation.jsonl", json.dumps(row) + "\n")
    write(tmp_path / "winogrande" / "validation-labels.lst", "1\n2\n")
    with pytest.raises(DataError, match="labels file has 2 lines"):
        load_questions("winogrande", "validation", data_root=tmp_path)
    write(tmp_path / "winogrande" / "validation-labels.lst", "2\n")
    with pytest.raises(DataError, match="label mismatch"):
        load_questions("winogrande", "validation", data_root=tmp_path)


# --- The user format. ---

def test_user_jsonl_index_text_and_default_ids(tmp_path, write):
    p = write(tmp_path / "mine.jsonl", "\n".join([
        json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": 1}),
        json.dumps({"question": "Sky?", "choices": ["blue", "green", "red"], "answer": "blue", "id": "sky"}),
    ]) + "\n")
    qs = load_user_file(p)
    assert [q.id for q in qs] == ["1", "sky"] and [q.gold for q in qs] == [1, 0]
    assert qs[0].context == "Question: 2+2?\nAnswer:" and qs[0].continuation(1) == " 4"
    assert qs[0].benchmark == "user:mine"


def test_user_csv_json_choices_and_columns(tmp_path, write):
    p = write(tmp_path / "a.csv", 'question,choices,answer\n"2+2?","[""3"", ""4""]",4\n')
    assert load_user_file(p)[0].gold == 1  # "4" is a choice's text
    p = write(tmp_path / "b.csv",
              "id,question,choice1,choice2,choice3,answer\nq1,Sky?,blue,green,,0\nq2,2+2?,3,4,5,5\n")
    qs = load_user_file(p)
    assert qs[0].choices == ("blue", "green") and qs[0].gold == 0  # trailing empty cell: fewer choices
    assert qs[1].gold == 2


BAD_USER = [  # (file name, content, line, field, message)
    ("m.jsonl", '{"choices": ["a", "b"], "answer": 0}\n', 1, "question", "missing field"),
    ("o.jsonl", '{"question": "q", "choices": ["a", "b"], "answer": 2}\n', 1, "answer", "gold index out of range"),
    ("e.jsonl", '{"question": "q", "choices": ["a", ""], "answer": 0}\n', 1, "choices", "empty choice"),
    ("f.jsonl", '{"question": "q", "choices": ["a"], "answer": 0}\n', 1, "choices", "fewer than 2 choices"),
    ("d.jsonl", '{"id": "x", "question": "q", "choices": ["a", "b"], "answer": 0}\n' * 2, 2, "id", "duplicate id"),
    ("j.jsonl", '{"question": "q", "choices": ["a", "b"], "answer": 0}\n{"question": \n', 2, None, "invalid JSON"),
    ("t.jsonl", '{"question": "q", "choices": ["a", "b"], "answer": "c"}\n', 1, "answer", "matches no choice"),
    ("m.csv", "question,choices\nq,\"[\"\"a\"\",\"\"b\"\"]\"\n", 2, "answer", "missing field"),
    ("g.csv", "question,choice1,choice2,choice3,answer\nq,a,,c,0\n", 2, "choice2", "empty choice"),
    ("j.csv", 'question,choices,answer\nq,"[""a"", ",0\n', 2, "choices", "invalid JSON"),
    ("a.csv", "question,choice1,choice2,answer\nq,1,0,1\n", 2, "answer", "ambiguous answer"),
]


@pytest.mark.parametrize("name, content, line, field, message", BAD_USER)
def test_user_file_errors_are_located(tmp_path, write, assert_located, name, content, line, field, message):
    p = write(tmp_path / name, content)
    with pytest.raises(DataError, match=message) as e:
        load_user_file(p)
    assert_located(e.value, p, line, field)
    qs = load_user_file(p, lenient=True)
    assert qs.skipped.count == 1 and len(qs) == content.count("\n") - 1 - name.endswith(".csv")


def test_user_file_wrong_encoding_and_type(tmp_path, write, assert_located):
    p = write(tmp_path / "w.jsonl", b'{"question": "q", "choices": ["a", "b"], "answer": 0}\n{"question": "\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8") as e:
        load_user_file(p)
    assert_located(e.value, p, 2, None)
    with pytest.raises(DataError, match="unknown file type"):
        load_user_file(write(tmp_path / "x.txt", ""))
