"""Every objective trains from the CLI on a tiny model and raises the gold answer's margin over the wrong
ones on its training questions; the run records which objective made the head."""

from __future__ import annotations

import json

import pytest

from likra.cli import main
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")

SINGLE_HEAD = ("unlikelihood", "dpo", "simpo", "orpo", "kto", "infonca")


def margins(model_dir, run, questions) -> tuple[float, float]:
    """Mean over questions of (gold - mean wrong) per-character log-likelihood: base model, trained head."""
    from likra.models.likra_model import load_likra
    from likra.scoring.rules import choice_scores

    likra = load_likra(str(model_dir), run)
    table = likra.engine(progress=False).score(questions, ("base", "pos"), checkpoint="final")
    out = []
    for rule in ("base", "sft"):
        per_q = choice_scores(table, rule, 1.0, "char", None if rule == "base" else "final").values()
        out.append(sum(s[g] - sum(x for i, x in enumerate(s) if i != g) / (len(s) - 1) for s, g in per_q) / len(per_q))
    return out[0], out[1]


@pytest.mark.parametrize("objective", SINGLE_HEAD)
def test_objective_trains_one_head_that_prefers_gold(objective, model_dir, tmp_path):
    from likra.config import DataConfig
    from likra.pipeline import build_training_data

    run = tmp_path / objective
    beta = ["--beta", "1"] if objective not in ("unlikelihood",) else []
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "8", "--batch-size", "4", "--lr", "3e-2",
                 "--epochs", "3", "--objective", objective, *beta, "--out", str(run)]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["heads"] == ["pos"] and record["config"]["train"]["objective"]["name"] == objective
    assert not (run / "neg").exists() and (run / "pos" / "checkpoint-000024").is_dir()
    meta = json.loads((run / "pos" / "checkpoint-000024" / "likra-head.json").read_text())
    assert meta["train"]["config"]["objective"]["name"] == objective
    questions = build_training_data(DataConfig(n_train=8)).questions
    base, head = margins(model_dir, run, questions)
    assert head > base + 0.05, f"{objective}: margin {base:.3f} -> {head:.3f}"


def test_dpo_reference_is_the_base_model(model_dir, tmp_path):
    """The reference log-probs come from the same forward with the adapter off: equal to the base model's."""
    import torch

    from likra.config import DataConfig, ObjectiveConfig, TrainConfig
    from likra.data.questions import Question
    from likra.models.heads import heads_on
    from likra.models.loading import load_model
    from likra.pipeline import build_training_data, training_units
    from likra.scoring.engine import EngineConfig, ScoringEngine
    from likra.training.trainer import HeadTrainer

    loaded = load_model(str(model_dir))
    data = build_training_data(DataConfig(n_train=3))
    model = heads_on(loaded)

    with torch.no_grad():  # make the head differ from the base
        for n, p in model.named_parameters():
            if "lora_B" in n and ".pos." in n:
                p.add_(0.05)
    trainer = HeadTrainer(model, loaded.tokenizer, loaded.prefix_token_ids, "pos", tmp_path / "pos",
                          TrainConfig(objective=ObjectiveConfig(name="dpo")), progress=False)
    units = training_units("dpo", data)["pos"]
    model.set_adapter("pos")
    scores = trainer._scores(list(units))
    # the same sequences scored by the engine under the base model ('base') and the head ('pos')
    qs = [Question(f"q{i}", "t", p.context, (p.answer.lstrip(),), 0) for i, p in enumerate(x for u in units for x in u)]
    table = ScoringEngine(model, loaded.tokenizer, loaded.prefix_token_ids, EngineConfig(progress=False)).score(
        qs, ("base", "pos"))
    by = {(r.head, int(r.question_id[1:])): r.logprob for r in table}
    n = len(qs)
    assert scores.ref_logp.tolist() == pytest.approx([by[("base", i)] for i in range(n)], abs=1e-4)
    assert scores.logp.tolist() == pytest.approx([by[("pos", i)] for i in range(n)], abs=1e-4)
    assert scores.logp.tolist() != pytest.approx(scores.ref_logp.tolist(), abs=1e-3)


def test_single_head_objective_refuses_negatives_only(model_dir, tmp_path, capsys):
    assert main(["train", "--model", str(model_dir), "--objective", "dpo", "--negatives-only",
                 "--out", str(tmp_path / "x")]) == 2
    assert "negatives-only applies to nll" in capsys.readouterr().err


def test_unknown_objective_setting_names_the_flag(model_dir, tmp_path, capsys):
    assert main(["train", "--model", str(model_dir), "--objective", "nll", "--beta", "0.5", "--n-train", "4",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "beta" in err and "Traceback" not in err


def test_eval_of_a_one_head_run_reports_the_implicit_reward(model_dir, tmp_path, capsys):
    run = tmp_path / "dpo"
    assert main(["--quiet", "train", "--model", str(model_dir), "--n-train", "4", "--objective", "dpo",
                 "--out", str(run)]) == 0
    assert main(["--quiet", "eval", "--run", str(run), "--model", str(model_dir), "--limit", "3",
                 "--out", str(tmp_path / "e")]) == 0
    assert "head-base" in capsys.readouterr().out
    results = json.loads((tmp_path / "e" / "results.json").read_text())["results"]
    assert {r["rule"] for r in results} == {"base", "sft", "reward"}
    from likra.scoring.rules import accuracy
    from likra.scoring.table import ScoreTable

    table = ScoreTable.load(tmp_path / "e" / "scores.csv")
    reward = next(r for r in results if r["rule"] == "reward")
    assert reward["acc_norm"] == accuracy(table, "reward", 1.0, "char", "4").acc
