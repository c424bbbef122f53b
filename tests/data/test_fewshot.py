"""Few-shot contexts: lm-eval's layout and sampling, seeded, never the question itself."""

from __future__ import annotations

import random

import pytest

from likra.data.fewshot import fewshot_context, fewshot_contexts, with_fewshot
from likra.data.questions import Question


def test_k0_is_empty(toy_questions):
    assert fewshot_context(toy_questions[0], toy_questions, 0, seed=1) == ""


def test_layout_and_self_exclusion(toy_questions):
    q = toy_questions[0]
    for seed in range(30):
        ctx = fewshot_context(q, toy_questions, 3, seed=seed)
        blocks = ctx.split("\n\n")
        assert ctx.endswith("\n\n") and len(blocks) == 4 and blocks[-1] == ""
        texts = {p.fewshot_text() for p in toy_questions}
        assert all(b in texts for b in blocks[:3]) and q.fewshot_text() not in blocks
        assert len(set(blocks[:3])) == 3


def test_seeded(toy_questions):
    q = toy_questions[4]
    assert fewshot_context(q, toy_questions, 3, seed=1) == fewshot_context(q, toy_questions, 3, seed=1)
    assert len({fewshot_context(q, toy_questions, 3, seed=s) for s in range(10)}) > 1
    # Per-question generators: different questions get different examples under one seed.
    assert len({fewshot_context(p, toy_questions, 3, seed=1) for p in toy_questions}) > 1


def test_batch_matches_lm_eval_sampling(toy_questions):
    """lm-eval's ContextSampler: one Random(seed); sample(docs, k+1), drop the doc, keep k."""
    k, seed = 2, 1234
    rnd, expected = random.Random(seed), []
    for q in toy_questions:
        drawn = [d for d in rnd.sample(toy_questions, k + 1) if d != q][:k]
        expected.append("".join(d.fewshot_text() + "\n\n" for d in drawn))
    assert fewshot_contexts(toy_questions, toy_questions, k, seed) == expected


def test_other_split_pool_draws_k(toy_questions):
    pool, q = toy_questions[1:], toy_questions[0]  # q not in the pool: k draws, as lm-eval
    rnd = random.Random(7)
    expected = "".join(d.fewshot_text() + "\n\n" for d in rnd.sample(pool, 2))
    assert fewshot_contexts([q], pool, 2, seed=7) == [expected]


def test_first_n_and_too_small_pool(toy_questions):
    q = toy_questions[1]
    ctx = fewshot_context(q, toy_questions, 2, seed=0, sampler="first_n")
    assert ctx == toy_questions[0].fewshot_text() + "\n\n" + toy_questions[2].fewshot_text() + "\n\n"
    with pytest.raises(ValueError, match="pool has 3 candidate examples"):
        fewshot_context(q, toy_questions[:3], 3, seed=0)


def test_description_groups_and_with_fewshot():
    def mmlu(qid: str, subject: str, gold: int) -> Question:
        d = f"About {subject}.\n\n"
        return Question(qid, "mmlu", d + f"{qid}?\nAnswer:", ("A", "B"), gold, description=d)

    pool = [mmlu(f"a{i}", "art", 0) for i in range(3)] + [mmlu(f"b{i}", "bio", 1) for i in range(3)]
    q = mmlu("t", "art", 1)
    prefix = fewshot_context(q, pool, 2, seed=0, sampler="first_n")
    assert prefix == "a0?\nAnswer: A\n\na1?\nAnswer: A\n\n"  # same subject only, no description
    shot = with_fewshot(q, prefix)
    assert shot.context == "About art.\n\n" + prefix + "t?\nAnswer:"
    assert shot.requests()[1] == (shot.context, " B") and with_fewshot(q, "") is q


def test_with_fewshot_winogrande_contexts():
    q = Question("w", "winogrande", "Ann beat Bo so ", ("won.", "won."), 0,
                 choice_contexts=("Ann beat Bo so Ann", "Ann beat Bo so Bo"))
    shot = with_fewshot(q, "EX\n\n")
    assert shot.choice_contexts == ("EX\n\nAnn beat Bo so Ann", "EX\n\nAnn beat Bo so Bo")
    assert shot.context == "EX\n\nAnn beat Bo so "


def test_real_mmlu_fewshot(real):
    test, dev = real("mmlu", "test"), real("mmlu", "dev")
    q = test[0]
    prefix = fewshot_context(q, dev.questions, 5, seed=0, sampler="first_n")
    shot = with_fewshot(q, prefix)
    assert shot.context.startswith(q.description + dev[0].fewshot_text() + "\n\n")
    assert shot.context.count("The following are") == 1 and prefix.count("\nAnswer: ") == 5


def test_spare_draw_advances_like_lm_eval(toy_questions):
    """Tasks whose YAML sets neither fewshot_split nor test_split: lm-eval draws k+1 and keeps k
    even for documents outside the pool, so the second document's examples shift by one draw."""
    pool, qs = toy_questions[2:], toy_questions[:2]
    rnd, expected = random.Random(5), []
    for _ in qs:
        expected.append("".join(d.fewshot_text() + "\n\n" for d in rnd.sample(pool, 3)[:2]))
    got = fewshot_contexts(qs, pool, 2, seed=5, spare=True)
    assert got == expected
    plain = fewshot_contexts(qs, pool, 2, seed=5)
    assert got[0] == plain[0] and got[1] != plain[1]


# likra benchmark -> lm-eval 0.4 task YAML (relative to lm_eval/tasks) whose few-shot draw it copies
LM_EVAL_YAMLS = {
    "arc_challenge": ("arc/arc_easy.yaml",), "hellaswag": ("hellaswag/hellaswag.yaml",),
    "winogrande": ("winogrande/default.yaml",), "openbookqa": ("openbookqa/openbookqa.yaml",),
    "commonsense_qa": ("commonsense_qa/default.yaml",), "piqa": ("piqa/piqa.yaml",),
    "mmlu": ("mmlu/default/_default_template_yaml",),
}


@pytest.mark.parametrize("name", sorted(LM_EVAL_YAMLS))
def test_fewshot_spare_follows_installed_lm_eval(name):
    """The registry's `fewshot_spare` is lm-eval's `fewshot_split == test_split` on its own YAML."""
    lm_eval = pytest.importorskip("lm_eval")
    from pathlib import Path

    from likra.data.benchmarks import get_benchmark

    text = (Path(lm_eval.__file__).parent / "tasks" / LM_EVAL_YAMLS[name][0]).read_text()
    fields = dict(line.split(":", 1) for line in text.splitlines() if line and not line[0].isspace() and ":" in line)
    value = {k.strip(): v.strip() for k, v in fields.items()}

    def split(key):
        return None if value.get(key, "null") == "null" else value[key]

    assert get_benchmark(name).fewshot_spare == (split("fewshot_split") == split("test_split"))


def test_add_fewshot_uses_the_benchmarks_own_draw(real):
    """add_fewshot = fewshot_contexts with the registry's split, sampler and spare for that benchmark."""
    from likra.data.benchmarks import add_fewshot

    qs = list(real("winogrande", "validation").questions[:3])
    pool = list(real("winogrande", "train_l").questions)
    got = add_fewshot(qs, "winogrande", 2, seed=1234)
    expected = [with_fewshot(q, p) for q, p in zip(qs, fewshot_contexts(qs, pool, 2, 1234, spare=True))]
    assert got == expected and got[1] != with_fewshot(qs[1], fewshot_contexts(qs, pool, 2, 1234)[1])
    assert add_fewshot(qs, "winogrande", 0) == qs
    with pytest.raises(ValueError, match="takes no few-shot examples"):
        add_fewshot(qs, "truthfulqa_mc1", 1)
