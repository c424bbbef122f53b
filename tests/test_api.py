"""The Python API: the README's example runs as written (on a tiny model, small numbers), and
`likra.load` / `likra.train` give what the CLI gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import likra
from likra.errors import ConfigError
from likra.paths import data_root

pytestmark = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(model_dir, tmp_path, capsys):
    code = (readme_example().replace('"smollm2-135m"', repr(str(model_dir))).replace("n_train=256", "n_train=8")
            .replace("limit=200", "limit=6").replace('"runs/arc256"', repr(str(tmp_path / "arc256"))))
    assert code != readme_example()
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[-1] == "likra" and out[0].rsplit(" ", 1)[0] in ("carbon dioxide", "oxygen")
    assert "('Likra'" in out[1] or "('likra'" in out[1]
    assert (tmp_path / "arc256" / "eval" / "arc_challenge-test" / "scores.csv").exists()


def test_load_scores_as_likra_score_does(model_dir, tmp_path):
    """likra.load(run).score equals score_candidates on load_likra(run): one engine, one rule."""
    run = tmp_path / "r"
    record = likra.train(run, model=str(model_dir), n_train=6, lr=1e-2, seed=3, progress=False)
    assert record["config"]["data"]["n_train"] == 6 and record["config"]["train"]["seed"] == 3
    model = likra.load(run, model=str(model_dir))
    assert model.heads == ("pos", "neg") and model.checkpoint == 6
    got = model.score("What gives us light?", ["the sun", "a rock", "the moon"], weight=0.5)
    ref = likra.score_candidates(likra.load_likra(str(model_dir), run), "What gives us light?",
                                 ["the sun", "a rock", "the moon"], 0.5)
    assert [a["score"] for a in got["answers"]] == pytest.approx([a["score"] for a in ref["answers"]], abs=1e-6)
    assert got["ranking"] == ref["ranking"] and got["weight"] == 0.5


def test_train_refuses_unknown_settings(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        likra.train(tmp_path / "x", n_trian=4)
    assert not (tmp_path / "x").exists()


def test_verify_api_generates_and_ranks(model_dir, tmp_path):
    run = tmp_path / "r"
    likra.train(run, model=str(model_dir), n_train=4, lr=1e-2, progress=False)
    model = likra.load(run, model=str(model_dir))
    a = model.verify("What gives us light?", ["the sun"], generate=3, seed=1)
    b = model.verify("What gives us light?", ["the sun"], generate=3, seed=1)
    assert a == b and a["answers"][0]["answer"] == "the sun" and a["threshold"] is None
    assert sorted(a["ranking"]) == list(range(len(a["answers"])))
