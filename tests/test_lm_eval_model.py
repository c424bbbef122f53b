"""lm-eval's `likra` model (likra.integrations.lm_eval) on a tiny model folder and local task files.

- mode=base is lm-eval's own `hf` model: same accuracies, same per-request log-likelihoods (1e-4).
- the Likra modes give what `likra eval` gives on the same questions (same ids, same rule).
- model args are checked with clear errors; generation is refused.
Nothing is downloaded: the tasks read the local benchmark files under likra's data root.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from likra.errors import ConfigError
from likra.integrations.local_tasks import TEMPLATES, missing_files, task_manager, write_local_tasks

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("lm_eval") is None,
                       reason="lm-evaluation-harness is not installed (pip install lm_eval==0.4.13)"),
    pytest.mark.skipif(bool(missing_files(tasks=("local_arc_challenge", "local_hellaswag"))),
                       reason="benchmark data not found (set LIKRA_DATA)"),
]
LIMIT = 8
ARC, HELLASWAG = "local_arc_challenge", "local_hellaswag"
TOL = 1e-4  # float32 sums over up to ~40 tokens, batched differently on each side


@pytest.fixture(scope="module", autouse=True)
def offline():
    with pytest.MonkeyPatch.context() as mp:  # module-wide, undone afterwards
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("TOKENIZERS_PARALLELISM", "false")
        yield


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory):
    return write_local_tasks(tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def tm(tasks_dir):
    return task_manager(tasks_dir)


@pytest.fixture(scope="module")
def lm_module():
    import likra.integrations.lm_eval as module

    return module


@pytest.fixture(scope="module")
def base_args(model_dir):
    return f"pretrained={model_dir},mode=base,device=cpu,dtype=float32"


def evaluate(model, tm, task, shots=0, model_args=None, **kw):
    """simple_evaluate with logged samples; (metrics, samples sorted by doc_id, full output)."""
    import lm_eval

    out = lm_eval.simple_evaluate(model=model, model_args=model_args, tasks=[task], num_fewshot=shots,
                                  log_samples=True, task_manager=tm, **kw)
    metrics = {k.split(",")[0]: v for k, v in out["results"][task].items() if k in ("acc,none", "acc_norm,none")}
    return metrics, sorted(out["samples"][task], key=lambda s: s["doc_id"]), out


def resps(samples) -> list[tuple[float, bool]]:
    """Every request's (loglik, is_greedy), in document then choice order."""
    return [tuple(r[0]) for s in samples for r in s["resps"]]


# ---- mode=base is lm-eval's hf model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def hf_and_likra(model_dir, base_args, tm, lm_module):
    """(task, shots) -> {'hf': ..., 'likra': ...} results of both models on the first LIMIT documents."""
    from lm_eval.models.huggingface import HFLM

    hf = HFLM(pretrained=str(model_dir), batch_size=8, device="cpu", dtype="float32")
    out = {}
    # HellaSwag 2-shot contexts pass the tiny model's 512 positions: both sides cut them from the left
    for task, shots in ((ARC, 0), (HELLASWAG, 2)):
        out[(task, shots)] = {"hf": evaluate(hf, tm, task, shots, limit=LIMIT),
                              "likra": evaluate("likra", tm, task, shots, model_args=base_args, limit=LIMIT)}
    return out


@pytest.mark.parametrize("task,shots", [(ARC, 0), (HELLASWAG, 2)])
def test_base_mode_is_lm_evals_hf_model(hf_and_likra, task, shots):
    (hf_metrics, hf_samples, _), (metrics, samples, _) = (hf_and_likra[(task, shots)][k] for k in ("hf", "likra"))
    assert metrics == hf_metrics and set(metrics) == {"acc", "acc_norm"}
    assert [s["arguments"] for s in samples] == [s["arguments"] for s in hf_samples]
    ours, theirs = resps(samples), resps(hf_samples)
    assert len(ours) >= 3 * LIMIT
    assert max(abs(a[0] - b[0]) for a, b in zip(ours, theirs)) < TOL
    assert [a[1] for a in ours] == [b[1] for b in theirs]  # is_greedy
    # filtered_resps (what the metrics read) are the responses themselves
    assert [tuple(r) for s in samples for r in s["filtered_resps"]] == ours


def test_results_record_the_likra_model(hf_and_likra):
    out = hf_and_likra[(ARC, 0)]["likra"][2]
    info = out["config"]["likra"]
    assert info["mode"] == "base" and info["heads_scored"] == ["base"] and info["run"] is None


def test_empty_context_is_conditioned_like_hflm(model_dir, base_args, lm_module):
    """lm-eval conditions an empty context on BOS (EOS without one); likra does the same."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    reqs = [Instance("loglikelihood", {}, ctx_cont, i) for i, ctx_cont in
            enumerate([("", "The cat sat on the mat."), ("", " Paris"), ("Question: Which gas?", " oxygen")])]
    hf = HFLM(pretrained=str(model_dir), batch_size=4, device="cpu", dtype="float32").loglikelihood(reqs)
    ours = lm_module.LikraLM.create_from_arg_string(base_args).loglikelihood(reqs, disable_tqdm=True)
    assert max(abs(a[0] - b[0]) for a, b in zip(ours, hf)) < TOL
    assert [a[1] for a in ours] == [b[1] for b in hf]


def test_disable_tqdm_hides_the_engines_progress_bar(base_args, lm_module, capsys):
    from lm_eval.api.instance import Instance

    lm = lm_module.LikraLM.create_from_arg_string(base_args)
    reqs = [Instance("loglikelihood", {}, ("Question: Which gas?", " oxygen"), 0)]
    lm.loglikelihood(reqs, disable_tqdm=True)
    assert "likra base" not in capsys.readouterr().err
    lm.loglikelihood(reqs)
    assert "likra base" in capsys.readouterr().err


# ---- the Likra modes give what `likra eval` gives -----------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(model_dir, tmp_path_factory):
    from likra.config import DataConfig, ModelConfig, TrainConfig, TrainRunConfig
    from likra.pipeline import train_run

    run = tmp_path_factory.mktemp("lm_eval_run") / "run"
    cfg = TrainRunConfig(model=ModelConfig(spec=str(model_dir), device="cpu", dtype="float32"),
                         data=DataConfig(n_train=8), train=TrainConfig(lr=1e-2, batch_size=4))
    train_run(cfg, run, progress=False)
    return run


WEIGHTS = (0.5, 2.0)


@pytest.fixture(scope="module")
def likra_eval(run_dir, tmp_path_factory):
    """`likra eval` on LIMIT ARC-Challenge test questions (its own seeded subset), 0-shot."""
    from likra.config import EvalConfig
    from likra.evaluate import SCORES_FILE, evaluate
    from likra.scoring.table import ScoreTable

    out = tmp_path_factory.mktemp("likra_eval")
    rep = evaluate(EvalConfig(limit=LIMIT, weights=WEIGHTS), run_dir, out, device="cpu", dtype="float32",
                   progress=False)
    return rep, ScoreTable.load(out / SCORES_FILE)


def question_doc_indices(ids: list[str]) -> list[int]:
    """Positions of the given ARC-Challenge test ids in the test file: lm-eval's document indices."""
    from likra.paths import data_root

    path = data_root() / "arc" / "ARC-Challenge-test.jsonl"
    position = {json.loads(line)["id"]: i for i, line in enumerate(path.read_text().splitlines())}
    return sorted(position[i] for i in ids)


@pytest.mark.parametrize("mode,rule,weight", [("sft", "sft", 1.0), ("likra", "likra", 0.5),
                                              ("base_likra", "base-likra", 2.0)])
def test_likra_modes_match_likra_eval(run_dir, likra_eval, tm, lm_module, mode, rule, weight):
    from likra.scoring.rules import choice_scores

    rep, table = likra_eval
    seen = str(rep["checkpoints"][0])
    ids = sorted({r.question_id for r in table})
    weight_arg = f",weight={weight}" if rule != "sft" else ""
    # run= alone: the base model comes from the run's record
    metrics, samples, _ = evaluate("likra", tm, ARC, 0, model_args=f"run={run_dir},mode={mode}{weight_arg},device=cpu",
                                   samples={ARC: question_doc_indices(ids)})
    assert sorted(s["doc"]["id"] for s in samples) == ids
    ours = next(r for r in rep["results"] if r["rule"] == rule and r["weight"] == weight and r["checkpoint"] == seen)
    assert metrics == {"acc": ours["acc"], "acc_norm": ours["acc_norm"]}
    # request by request: lm-eval's log-likelihoods are the rule's scores in likra's table
    expected = choice_scores(table, rule, weight, "none", checkpoint=seen)
    diffs = [abs(ll - want) for s in samples
             for (ll, _), want in zip(s["filtered_resps"], expected[("arc_challenge", s["doc"]["id"])][0])]
    assert len(diffs) >= 3 * LIMIT and max(diffs) < TOL
    # is_greedy is the primary head's: pos for sft/likra, base for base_likra
    primary = "base" if rule == "base-likra" else "pos"
    greedy = {(r.question_id, r.choice): r.greedy for r in table.select(primary, None if primary == "base" else seen)}
    assert [g for s in samples for _, g in s["filtered_resps"]] == [
        greedy[(s["doc"]["id"], c)] for s in samples for c in range(len(s["filtered_resps"]))]


def test_modes_over_one_loaded_model(run_dir, lm_module):
    """`from_likra` serves every mode from one loaded model, as a fresh load would; the heads change
    the scores (mode=likra is not mode=base under another name)."""
    from lm_eval.api.instance import Instance

    from likra.models.likra_model import load_likra

    reqs = [Instance("loglikelihood", {}, ("Question: What gives us light?\nAnswer:", c), i)
            for i, c in enumerate([" the Sun", " a rock"])]
    shared = load_likra(run_dir=run_dir, device="cpu")
    base = lm_module.LikraLM.from_likra(shared, "base").loglikelihood(reqs, disable_tqdm=True)
    likra = lm_module.LikraLM.from_likra(shared, "likra", weight=0.5).loglikelihood(reqs, disable_tqdm=True)
    fresh = lm_module.LikraLM(run=str(run_dir), mode="likra", weight=0.5, device="cpu").loglikelihood(
        reqs, disable_tqdm=True)
    assert all(abs(a[0] - b[0]) > 1e-3 for a, b in zip(base, likra))
    assert likra == pytest.approx(fresh, abs=1e-6)


# ---- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    ("mode=likra,pretrained=x", "run=RUN_DIR"),
    ("mode=base_likra,pretrained=x", "mode=base_likra scores a training run's heads"),
    ("mode=best,pretrained=x", "mode='best'; use one of base, sft, likra, base_likra"),
    ("mode=likra,run=r,weight=heavy", "weight='heavy' is not a number"),
    ("mode=likra,run=r,weight=-1", "must be a finite number >= 0"),
    ("mode=sft,run=r,weight=2", "weight applies to mode=likra or base_likra"),
    ("pretrained=x,batch_tokens=0", "batch_tokens=0 must be a whole number >= 1"),
    ("pretrained=x,batch_tokens=1.5", "batch_tokens=1.5 must be a whole number >= 1"),
    ("run=r,checkpoint=first", "checkpoint='first'; use 'final' or examples seen"),
    ("pretrained=x,checkpoint=64", "checkpoint= selects a checkpoint of run="),
    ("pretrained=x,temperature=0.5", "unknown model arg(s) ['temperature']"),
    ("mode=base", "give pretrained=MODEL"),
])
def test_bad_model_args_are_clear_errors_before_any_model_loads(args, message, lm_module, monkeypatch):
    monkeypatch.setattr(lm_module, "_load", lambda a: pytest.fail("model loaded"))
    with pytest.raises(ConfigError) as err:
        lm_module.LikraLM.create_from_arg_string(args)
    assert message in str(err.value)


def test_model_args_arrive_as_lm_eval_types_and_are_converted():
    from lm_eval.utils import simple_parse_args_string

    from likra.integrations.model_args import parse_model_args

    typed = parse_model_args(simple_parse_args_string("run=r,mode=base-likra,weight=1,checkpoint=64,batch_tokens=2048"))
    assert (typed.mode, typed.weight, typed.checkpoint, typed.batch_tokens) == ("base_likra", 1.0, "64", 2048)
    quoted = parse_model_args({"run": "r", "mode": "likra", "weight": "0.25", "batch_tokens": "512", "batch_size": 8})
    assert (quoted.weight, quoted.batch_tokens, quoted.checkpoint) == (0.25, 512, "final")


def test_a_run_without_the_modes_head_is_a_clear_error(model_dir, tmp_path, lm_module):
    from likra.config import DataConfig, ModelConfig, TrainConfig, TrainRunConfig
    from likra.pipeline import train_run

    cfg = TrainRunConfig(model=ModelConfig(spec=str(model_dir), device="cpu"), data=DataConfig(n_train=2),
                         train=TrainConfig(batch_size=2), heads=("neg",))
    train_run(cfg, tmp_path / "r", progress=False)
    with pytest.raises(ConfigError, match=r"mode=likra needs head\(s\) \['pos'\]"):
        lm_module.LikraLM(run=str(tmp_path / "r"), mode="likra", device="cpu")


def test_generation_and_perplexity_are_refused(base_args, lm_module):
    lm = lm_module.LikraLM.create_from_arg_string(base_args)
    for method in (lm.generate_until, lm.loglikelihood_rolling):
        with pytest.raises(NotImplementedError, match="multiple-choice and loglikelihood tasks"):
            method([])


# ---- the two doors -----------------------------------------------------------------------------------


def test_model_is_registered_with_lm_eval(lm_module):
    from lm_eval.api.registry import get_model

    assert get_model("likra") is lm_module.LikraLM


def test_command_line_door_runs_lm_evals_own_cli(hf_and_likra, base_args, tasks_dir, tmp_path, lm_module,
                                                monkeypatch):
    import lm_eval.tasks

    class LocalOnly(lm_eval.tasks.TaskManager):
        """The CLI's TaskManager without indexing lm-eval's built-in tasks (15 s; not under test here)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "include_defaults": False})

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", LocalOnly)
    out = tmp_path / "out"
    # lm-eval's CLI passes its --device (default cuda:0) to every model: device= in --model_args would clash
    args = base_args.replace(",device=cpu", "")
    code = lm_module.main(["--model", "likra", "--model_args", args, "--device", "cpu", "--include_path",
                           str(tasks_dir), "--tasks", ARC, "--limit", str(LIMIT), "--output_path", str(out)])
    assert code == 0
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"][ARC]
    metrics = hf_and_likra[(ARC, 0)]["hf"][0]
    assert (results["acc,none"], results["acc_norm,none"]) == (metrics["acc"], metrics["acc_norm"])
    assert lm_module.main(["--model", "likra", "--no-such-flag"]) == 2
    with pytest.raises(ConfigError, match="run=RUN_DIR"):
        lm_module.main(["--model", "likra", "--model_args", "mode=likra,pretrained=x", "--include_path",
                        str(tasks_dir), "--tasks", ARC, "--limit", "1"])


def test_local_task_files_ship_with_the_package(tmp_path):
    assert sorted(p.name for p in TEMPLATES.glob("*.yaml.in")) == [
        "local_arc_challenge.yaml.in", "local_hellaswag.yaml.in", "local_winogrande.yaml.in"]
    out = write_local_tasks(tmp_path / "t", tmp_path / "data root")
    written = sorted(p.name for p in out.iterdir())
    assert written == ["local_arc_challenge.yaml", "local_hellaswag.yaml", "local_winogrande.yaml", "utils.py"]
    text = (out / "local_arc_challenge.yaml").read_text()
    assert "@DATA_ROOT@" not in text and f'"{(tmp_path / "data root").resolve()}/arc/ARC-Challenge-test.jsonl"' in text
