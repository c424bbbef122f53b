"""Sampling candidate answers (likra.mining.generation) on a tiny random model: seeded, one line each, deduplicated,
from the base model with the heads switched off."""

from __future__ import annotations

import pytest
import torch

from likra.errors import ConfigError
from likra.mining.generation import SamplingConfig, clean_answers, dedup_key, generate_answers, generate_for, sample_raw
from likra.models.loading import LoadedModel

QUESTION = "Which gas do plants take in?"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine many small ops with two threads
    wait on each other (a 32-token sample took 13 s instead of 0.2 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def loaded(tiny_model, tokenizer):
    return LoadedModel(tiny_model, tokenizer, [tokenizer.bos_token_id], {"spec": "tiny"})


def _newline_id(tokenizer) -> int:
    (nl,) = [i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])]
    return nl


def _chatty_newlines(model, nl: int, bias: float = 8.0) -> None:
    """Give the output layer a bias towards the newline token, so sampled lines end early and often."""
    old = model.lm_head
    new = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        new.weight.copy_(old.weight)
        new.bias.zero_()
        new.bias[nl] = bias
    model.lm_head = new


def test_same_seed_same_answers_other_seed_other_answers(loaded):
    a = generate_answers(loaded, QUESTION, k=6, seed=0)
    assert a and a == generate_answers(loaded, QUESTION, k=6, seed=0)
    assert a != generate_answers(loaded, QUESTION, k=6, seed=1)
    assert len(a) <= 6 and all(x == x.strip() and x for x in a)


def test_batched_generation_is_repeatable_and_in_order(loaded):
    questions = [QUESTION, "What is the boiling point of water?", "Where is Paris?"]
    cfg = SamplingConfig(k=3, seed=4, batch_size=2, max_new_tokens=8)
    got = generate_for(loaded, questions, cfg)
    assert len(got) == 3 and got == generate_for(loaded, questions, cfg)
    raw = sample_raw(loaded, questions, cfg)
    assert [len(r) for r in raw] == [3, 3, 3] and [clean_answers(r) for r in raw] == got


def test_sampling_leaves_the_callers_random_state_alone(loaded):
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    generate_answers(loaded, QUESTION, k=2, seed=0, max_new_tokens=4)
    assert torch.equal(torch.rand(3), expected)


def test_each_sequence_stops_at_the_end_of_its_first_line(tiny_model, tokenizer):
    nl = _newline_id(tokenizer)
    _chatty_newlines(tiny_model, nl)
    loaded = LoadedModel(tiny_model, tokenizer, [tokenizer.bos_token_id], {})
    raw = sample_raw(loaded, [QUESTION, "Where is Paris?"], SamplingConfig(k=16, seed=0, max_new_tokens=48))
    flat = [t for r in raw for t in r]
    assert sum(t.strip() != "" and t.endswith("\n") for t in flat) > len(flat) // 2  # the bias ends lines early
    assert any(t.startswith("\n") and t.strip() for t in flat)  # a leading line break did not stop it
    assert all("\n" not in t.lstrip()[:-1] for t in flat)  # nothing sampled past the end of the first line
    answers = generate_for(loaded, [QUESTION], SamplingConfig(k=16, seed=0, max_new_tokens=48))[0]
    assert answers and all("\n" not in a for a in answers)


def test_heads_are_switched_off(tiny_model, tokenizer):
    """A LikraModel with trained-looking heads samples exactly what its bare base model samples."""
    from likra.models.heads import heads_on
    from likra.models.likra_model import LikraModel

    loaded = LoadedModel(tiny_model, tokenizer, [tokenizer.bos_token_id], {})
    base = generate_answers(loaded, QUESTION, k=4, seed=2)
    peft = heads_on(loaded)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0)
    ids = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        on = peft(input_ids=ids).logits
        with peft.disable_adapter():
            off = peft(input_ids=ids).logits
    assert not torch.allclose(on, off, atol=1e-2)  # the heads would change what is sampled
    assert generate_answers(LikraModel(loaded, peft, heads=("pos", "neg")), QUESTION, k=4, seed=2) == base
    assert generate_answers(loaded, QUESTION, k=4, seed=2) == base  # a LoadedModel with heads: its peft_model


@pytest.mark.parametrize("raw, expected", [
    (["Paris", "paris.", " PARIS ", "Paris, France"], ["Paris", "Paris, France"]),
    (["the  sun", "The sun!", "sun"], ["the  sun", "sun"]),
    (["", "  ", "\n \nlater\nmore", "x\ny", "\n"], ["later", "x"]),  # the first non-empty line
    (["a b\tc", "A B C?!", "a_b"], ["a b\tc", "a_b"]),
    (["42\n", "42.", "42 ", "4 2"], ["42", "4 2"]),
    (["…", "...", "ok"], ["…", "ok"]),
])
def test_clean_answers_cuts_strips_and_dedups_in_order(raw, expected):
    assert clean_answers(raw) == expected


@pytest.mark.parametrize("a, b, same", [
    ("The sun.", "the   sun", True), ("Sun", "sun!!", True), ("the sun", "sun", False),
    ("carbon-dioxide", "carbon dioxide", False), ("3.5", "3.5.", True), ("3.5", "35", False),
])
def test_dedup_key(a, b, same):
    assert (dedup_key(a) == dedup_key(b)) is same


@pytest.mark.parametrize("field, value", [("k", 0), ("max_new_tokens", 0), ("temperature", 0.0), ("top_p", 0.0),
                                          ("top_p", 1.5), ("batch_size", 0), ("seed", -1)])
def test_sampling_config_refuses_bad_values(field, value):
    with pytest.raises(ConfigError) as e:
        SamplingConfig(**{field: value})
    assert e.value.field == f"sample.{field}"


def test_cut_off_sampling_resumes_with_the_samples_of_an_uninterrupted_run(loaded, tmp_path, monkeypatch, capsys):
    import likra.mining.generation as generation

    questions = [f"Question number {i}?" for i in range(5)]
    cfg = SamplingConfig(k=2, seed=3, batch_size=2, max_new_tokens=4)
    whole = sample_raw(loaded, questions, cfg)
    journal = tmp_path / "mined.samples.partial"
    real, calls = generation._sample_batch, []

    def sample(*args, stop_after=None):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(generation, "_sample_batch", lambda *a: sample(*a, stop_after=2))
    with pytest.raises(KeyboardInterrupt):
        sample_raw(loaded, questions, cfg, journal=journal)
    assert len(journal.read_text().splitlines()) == 1 + 4  # the header, then two whole batches
    with open(journal, "a", encoding="utf-8") as f:
        f.write('["half a li')  # a batch cut off mid-write
    calls.clear()
    monkeypatch.setattr(generation, "_sample_batch", lambda *a: sample(*a))
    assert sample_raw(loaded, questions, cfg, journal=journal) == whole
    assert len(calls) == 1  # only the last batch was sampled again
    calls.clear()
    other = SamplingConfig(k=2, seed=4, batch_size=2, max_new_tokens=4)  # other settings never reuse the samples
    resampled = sample_raw(loaded, questions, other, journal=journal)
    assert len(calls) == 3 and "sampling again" in capsys.readouterr().err  # the likra logger: stderr
    assert resampled == sample_raw(loaded, questions, other)


def test_the_journal_says_how_far_sampling_is_and_at_what_pace(tmp_path):
    import json
    import os

    from likra.mining.journal import SampleJournal, progress

    path = tmp_path / "seed-0.samples.partial"
    first = SampleJournal(path, "f", batch_size=2, total=6)
    assert first.done() == []
    first.append([["a"], ["b"]])
    header = json.loads(path.read_text().splitlines()[0])
    assert (header["total"], header["batch_size"], header["started_with"]) == (6, 2, 0)
    # a second process resumes after the first's batch: its pace counts only what it samples itself
    second = SampleJournal(path, "f", batch_size=2, total=6)
    assert second.done() == [["a"], ["b"]]
    second.append([["c"], ["d"]])
    started = json.loads(path.read_text().splitlines()[0])["started_at"]
    os.utime(path, (started + 60, started + 60))  # its one batch of 2 took 60 s
    p = progress(path, now=started + 90)
    assert (p.sampled, p.total, p.batch_size) == (4, 6, 2)
    assert p.per_question_s == pytest.approx(30) and p.left_s() == pytest.approx(60)
    assert p.saved_ago_s == pytest.approx(30)
