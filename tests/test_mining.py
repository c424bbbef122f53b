"""`likra mine` (likra.mining.mine, likra.mining.command): checker rules, the report's counts, mined negatives
never the gold, the mined file read back by load_user_file and trained on with negative kind 'mined'."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

import likra.mining.mine as mining
from likra.data.benchmarks import load_user_file
from likra.data.questions import DataError, Question, normalise_answer
from likra.errors import ConfigError
from likra.mining.generation import SamplingConfig
from likra.mining.mine import (CHECKERS, Checker, ChoiceMapper, MineItem, NormalisedMatch, check_items, default_checker,
                          get_checker, journal_path, load_mine_input, mine, report_path, write_mined)
from likra.paths import data_root

HAS_ARC = (data_root() / "arc" / "ARC-Challenge-test.jsonl").is_file()
needs_data = pytest.mark.skipif(not HAS_ARC, reason="benchmark data not found")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads; on a busy machine two threads wait on each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def write():
    """write(path, text) -> path (tests/data's fixtures are not visible here)."""
    def _write(path, text: str):
        path.write_text(text, encoding="utf-8")
        return path
    return _write


@pytest.fixture
def assert_located():
    """assert_located(err, path, line, field): the error names all three."""
    def check(err: DataError, path, line: int, field: str) -> None:
        assert (err.path, err.line, err.field) == (str(path), line, field)
        assert f"{path}:{line}" in str(err) and f"field '{field}'" in str(err)
    return check


def item(answer: str, choices: tuple[str, ...] = (), aliases: tuple[str, ...] = (), qid: str = "q",
         negatives: tuple[str, ...] = ()) -> MineItem:
    choices = choices or (answer,)
    q = Question(qid, "user:t", f"Question: {qid}?\nAnswer:", choices, choices.index(answer), query=f"{qid}?",
                 negatives=negatives)
    return MineItem(q, aliases)


@pytest.mark.parametrize("generation, verdict", [
    ("carbon dioxide", "correct"), ("Carbon Dioxide.", "correct"), ("the carbon  dioxide", "correct"),
    ("CO2", "correct"),  # an alias
    ("oxygen", "wrong"), ("carbon", "unjudged"), ("dioxide", "unjudged"),  # a part of the gold: maybe right
    ("carbon dioxide gas", "unjudged"), ("not carbon dioxide", "unjudged"),  # the gold inside it
    ("carbonated water", "wrong"),  # 'carbon' is not a whole word of it
    ("the", "unjudged"), ("?!", "unjudged"), ("", "unjudged"),  # nothing left to compare
    ("co2 or o2", "unjudged"), ("o2", "wrong"),
])
def test_normalised_match(generation, verdict):
    assert NormalisedMatch().judge(generation, item("carbon dioxide", aliases=("CO2",))) == verdict


@pytest.mark.parametrize("generation, verdict", [
    ("56", "correct"), (" 56.", "correct"), ("fifty-six", "correct"),  # the alias counts as the gold choice
    ("54", "wrong"), ("The 64", "wrong"),
    ("58", "unjudged"), ("56 or 54", "unjudged"), ("", "unjudged"),  # no choice, or not exactly one
])
def test_choice_mapper(generation, verdict):
    it = item("56", choices=("54", "56", "64"), aliases=("fifty six",))
    assert ChoiceMapper().judge(generation, it) == verdict


def test_choice_mapper_leaves_a_wrong_choice_equal_to_the_gold_unjudged():
    it = item("The Sun", choices=("the sun", "The Sun", "moon"))
    assert ChoiceMapper().judge("sun", it) == "unjudged" and ChoiceMapper().judge("Moon!", it) == "wrong"


def test_checker_registry():
    assert set(CHECKERS) >= {"match", "choice"}
    assert isinstance(get_checker("match"), NormalisedMatch) and isinstance(get_checker("choice"), ChoiceMapper)
    with pytest.raises(ConfigError, match="unknown checker 'exact'; checkers: match, choice"):
        get_checker("exact")
    assert default_checker([item("a", ("a", "b"))]) == "choice"
    assert default_checker([item("a", ("a", "b")), item("c")]) == "match"


def test_choice_checker_needs_choices():
    with pytest.raises(DataError, match="question q: checker 'choice' needs choices"):
        check_items([item("sun")], ChoiceMapper())
    with pytest.raises(DataError, match="no questions"):
        check_items([], NormalisedMatch())


def fake_sampler(answers: dict[str, list[str]]):
    """generate_for's stand-in: canned answers per question text."""
    return lambda model, questions, cfg, progress=False, journal=None: [list(answers[q]) for q in questions]


def test_mine_counts_add_up_and_keeps_only_wrong_answers(monkeypatch):
    items = [item("sun", aliases=("the Sun star",), qid="a", negatives=("a lamp",)), item("water", qid="b"),
             item("7", choices=("6", "7"), qid="c")]
    monkeypatch.setattr(mining, "generate_for", fake_sampler({
        "a?": ["Sun.", "moon", "the sun star", "sun light", "A lamp", "stars"],
        "b?": ["water", "Water!"], "c?": ["6", "seven", "7"]}))
    result = mine(None, items, NormalisedMatch(), SamplingConfig(k=6))
    r = result.report
    assert (r.questions, r.sampled, r.generations) == (3, 18, 11)
    assert (r.correct, r.wrong, r.unjudged) == (5, 5, 1) and r.correct + r.wrong + r.unjudged == r.generations
    assert r.with_negatives == len(result.rows) == 2  # b has no wrong answer: not written
    a, c = result.rows
    assert a == {"id": "a", "question": "a?", "answer": "sun", "aliases": ["the Sun star"],
                 "negatives": ["a lamp", "moon", "stars"], "source": "user:t"}  # own first; 'A lamp' is a repeat
    assert c == {"id": "c", "question": "c?", "choices": ["6", "7"], "answer": 1, "negatives": ["6", "seven"],
                 "source": "user:t"}
    assert r.examples[0]["answers"][0] == ["Sun.", "correct"] and r.checker == "match" and r.sampling["k"] == 6


def test_a_checker_that_calls_the_gold_wrong_stops_the_run(monkeypatch):
    class Contrary(Checker):
        name, description = "contrary", "every answer is wrong"

        def judge(self, generation, item):
            return "wrong"

    monkeypatch.setattr(mining, "generate_for", fake_sampler({"a?": ["moon", "The Sun!"]}))
    with pytest.raises(RuntimeError, match="judged 'The Sun!' wrong, but it is the answer of question a"):
        mine(None, [item("sun", qid="a")], Contrary(), SamplingConfig(k=2))


def tiny_loaded(model_dir):
    from likra.models.loading import load_model

    return load_model(str(model_dir), "cpu", "float32")


def test_mine_on_a_tiny_model_writes_a_file_load_user_file_reads(model_dir, tmp_path):
    items = [item(a, qid=f"q{i}") for i, a in enumerate(["carbon dioxide", "the sun", "100 degrees"])]
    out = tmp_path / "m" / "mined.jsonl"
    cfg = SamplingConfig(k=5, seed=3, max_new_tokens=6)
    result = mine(tiny_loaded(model_dir), items, NormalisedMatch(), cfg, journal=journal_path(out))
    assert journal_path(out).exists()  # the samples, saved batch by batch while mining
    assert mine(tiny_loaded(model_dir), items, NormalisedMatch(), cfg).rows == result.rows  # the same as without it
    r = result.report
    assert r.sampled == 15 and r.correct + r.wrong + r.unjudged == r.generations <= 15
    assert r.with_negatives == len(result.rows) >= 1 and r.wrong == sum(len(row["negatives"]) for row in result.rows)
    assert write_mined(result, out) == report_path(out) == tmp_path / "m" / "mined.report.json"
    assert not journal_path(out).exists()  # its work is in the written file
    assert json.loads(report_path(out).read_text())["generations"] == r.generations
    questions = load_user_file(out)
    assert [q.id for q in questions] == [row["id"] for row in result.rows]
    for q in questions:
        assert q.negatives and all(normalise_answer(n) != normalise_answer(q.choices[q.gold]) for n in q.negatives)
        assert all("\n" not in n for n in q.negatives)


def test_load_mine_input_reads_free_form_rows_with_aliases(write, tmp_path):
    path = write(tmp_path / "qa.jsonl",
                 '{"id": "g", "question": "Gas?", "answer": "carbon dioxide", "aliases": ["CO2"]}\n'
                 '{"question": "Sum?", "choices": ["3", "4"], "answer": 1, "negatives": ["5"]}\n')
    a, b = load_mine_input(path)
    assert (a.question.choices, a.aliases, a.answers, a.has_choices) == (("carbon dioxide",), ("CO2",),
                                                                       ("carbon dioxide", "CO2"), False)
    assert (b.question.id, b.question.negatives, b.has_choices) == ("2", ("5",), True)
    assert a.question.context == "Question: Gas?\nAnswer:"
    csv = write(tmp_path / "qa.csv", 'question,answer,aliases\nGas?,carbon dioxide,"[""CO2""]"\nSun?,sun,\n')
    assert [it.aliases for it in load_mine_input(csv)] == [("CO2",), ()]


@pytest.mark.parametrize("text, line, field, message", [
    ('{"question": "Gas?", "answer": "x", "aliases": "CO2"}\n', 1, "aliases", "wrong type: aliases must be a list"),
    ('{"question": "Gas?", "answer": "x"}\n{"question": "b", "answer": "y", "aliases": [""]}\n', 2, "aliases",
     "empty alias"),
    ('{"question": "Gas?", "answer": 0}\n', 1, "answer", "wrong type: without choices"),
    ('{"id": 1, "question": "a", "answer": "x"}\n{"id": "1", "question": "b", "answer": "y"}\n', 2, "id",
     "duplicate id"),
    ('{"question": "", "answer": "x"}\n', 1, "question", "missing field"),
])
def test_load_mine_input_errors_are_located(write, tmp_path, assert_located, text, line, field, message):
    path = write(tmp_path / "bad.jsonl", text)
    with pytest.raises(DataError) as e:
        load_mine_input(path)
    assert e.value.reason.startswith(message)
    assert_located(e.value, path, line, field)


def run_mine(argv: list[str]) -> int:
    """`likra mine ...` through its own parser, as cli.py will wire it."""
    from likra.cli_args import common_options
    from likra.mining.command import add_parser

    p = argparse.ArgumentParser(parents=[common_options(top=True)])
    add_parser(p.add_subparsers(dest="command", required=True), common_options(top=False))
    return p.parse_args(argv).func(p.parse_args(argv))


def test_cli_mines_a_user_file(model_dir, write, tmp_path, capsys):
    qa = write(tmp_path / "qa.jsonl", "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in
                                              [("Gas?", "carbon dioxide"), ("Hot?", "100 degrees"), ("Up?", "sky")]))
    out = tmp_path / "mined.jsonl"
    assert run_mine(["--quiet", "mine", "--input", str(qa), "--model", str(model_dir), "--k", "4", "--n", "2",
                     "--max-new-tokens", "5", "--out", str(out)]) == 0
    report = json.loads(report_path(out).read_text())
    assert report["questions"] == 2 and report["checker"] == "match" and report["sampling"]["k"] == 4
    assert "questions with at least one negative" in capsys.readouterr().out
    assert len(load_user_file(out)) == report["with_negatives"]


@pytest.mark.parametrize("args, error, message", [
    (["--checker", "choice"], DataError, "needs choices"),
    (["--k", "0"], ConfigError, "--k: sample.k: must be >= 1"),
    (["--top-p", "2"], ConfigError, "--top-p"),
    (["--n", "0"], ConfigError, "--n: must be >= 1"),
    (["--out-name"], SystemExit, None),
])
def test_cli_refuses_bad_input_before_any_model_loads(monkeypatch, write, tmp_path, args, error, message):
    import likra.models.loading

    monkeypatch.setattr(likra.models.loading, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    qa = write(tmp_path / "qa.jsonl", '{"question": "Gas?", "answer": "carbon dioxide"}\n')
    argv = ["mine", "--input", str(qa), "--out", str(tmp_path / "m.jsonl"), *args]
    with pytest.raises(error, match=message):
        run_mine(argv)
    with pytest.raises(ConfigError, match="name it"):
        run_mine(["mine", "--input", str(qa), "--out", str(tmp_path / "m.csv")])
    with pytest.raises(DataError, match="file not found"):
        run_mine(["mine", "--input", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "m.jsonl")])
    assert not (tmp_path / "m.jsonl").exists()


@needs_data
@pytest.mark.parametrize("name, message", [("mmlu", "letters"), ("commonsense_qa", "letters"),
                                           ("winogrande", "partial scoring")])
def test_benchmarks_a_user_file_cannot_hold_are_refused(name, message):
    split = {"mmlu": "dev", "winogrande": "train_xs", "commonsense_qa": "validation"}[name]
    with pytest.raises(DataError, match=message):
        mining.benchmark_items(name, split)


@needs_data
def test_mined_arc_questions_train_a_negative_head(model_dir, monkeypatch, tmp_path):
    """Benchmark -> mined file -> build_training_data with kind 'mined' -> a tiny likra.train run."""
    import likra
    from likra.config import DataConfig
    from likra.data.negatives import sample
    from likra.pipeline import build_training_data

    items = sample(mining.benchmark_items("arc_easy", "train"), 6, seed=0)
    assert all(it.question.context == f"Question: {it.question.query}\nAnswer:" for it in items)
    wrong = {it.question.query: [c for i, c in enumerate(it.question.choices) if i != it.question.gold][:2]
             for it in items}
    monkeypatch.setattr(mining, "generate_for", fake_sampler(
        {q: [*w, items[0].answers[0]] for q, w in wrong.items()}))  # two wrong choices and some other text
    result = mine(None, items, get_checker("choice"), SamplingConfig(k=3))
    assert result.report.with_negatives == 6 and result.report.wrong == 12
    out = tmp_path / "mined.jsonl"
    write_mined(result, out)
    data = build_training_data(DataConfig(user_file=str(out), negative_kind="mined", seed=1))
    assert len(data.positives) == len(data.negatives) == len(data.questions) == 6
    by_id = {q.id: q for q in data.questions}
    for p in data.negatives:
        q = by_id[p.source_id]
        assert p.kind == "mined" and p.answer[1:] in q.negatives and p.answer != q.continuation(q.gold)
    record = likra.train(tmp_path / "run", model=str(model_dir), user_file=str(out), negative_kind="mined",
                         lr=1e-2, batch_size=2, curve=False, progress=False)
    assert record["data"]["negative_kind"] == "mined" and record["heads"]["neg"]["examples_seen"] == 6
    assert (tmp_path / "run" / "neg").is_dir()


@needs_data  # the leak check reads the ARC-Challenge test set
def test_train_cli_takes_mined_negatives(model_dir, tmp_path):
    """`likra train --negatives mined` on a user file whose rows carry their own negatives (no choices)."""
    import json

    from likra.cli import main

    rows = [{"question": f"What is {i} plus {i}?", "answer": str(2 * i), "negatives": [str(2 * i + 1), str(i)]}
            for i in range(1, 5)]
    f = tmp_path / "mined.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--quiet", "train", "--model", str(model_dir), "--user-file", str(f), "--negatives", "mined",
                 "--batch-size", "2", "--no-curve", "--out", str(tmp_path / "run")]) == 0
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["config"]["data"]["negative_kind"] == "mined" and record["heads"]["neg"]["examples_seen"] == 4
