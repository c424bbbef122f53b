"""Heads as the field shares them: a saved head is what PEFT's save_pretrained writes, loads with plain
`PeftModel.from_pretrained` to exactly likra's logits, and carries a model card that says what it is."""

from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors import safe_open

from likra.models.heads import HeadMeta, attach_heads, load_head, save_head, write_card
from likra.models.card import card_facts, render_card
from likra.paths import data_root
from likra.testing import build_model, randomise_lora

IDS = torch.tensor([[1, 17, 42, 99, 250, 7, 3, 64], [1, 5, 6, 7, 8, 9, 10, 11]])


def _perturbed_heads(arch: str):
    """Both heads with random LoRA weights (lora_B starts at zero: an untrained head changes nothing)."""
    return randomise_lora(attach_heads(build_model(arch)), scale=0.2, which="lora_")


def _logits(model, adapter: str | None = None) -> torch.Tensor:
    if adapter is not None:
        model.set_adapter(adapter)
    with torch.no_grad():
        return model(input_ids=IDS).logits


def _meta(head: str, spec: str | None = "tiny-base") -> HeadMeta:
    return HeadMeta(head, 8, {"spec": spec, "kind": "folder", "model_type": "llama"} if spec else {})


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_a_saved_head_loads_with_plain_peft_to_likras_logits(arch, tmp_path):
    from peft import PeftModel

    trained = _perturbed_heads(arch)
    folders = {h: save_head(trained, h, tmp_path / h / "checkpoint-000008", _meta(h)) for h in ("pos", "neg")}
    likra = attach_heads(build_model(arch))
    for head, folder in folders.items():
        load_head(likra, head, folder)
    expected = {h: _logits(likra, h) for h in folders}
    assert (expected["pos"] - expected["neg"]).abs().max() > 1e-2  # the heads differ: the comparison means something

    plain = PeftModel.from_pretrained(build_model(arch), str(folders["pos"]))  # adapter 'default'
    torch.testing.assert_close(_logits(plain), expected["pos"], atol=1e-6, rtol=0)
    named = PeftModel.from_pretrained(build_model(arch), str(folders["pos"]), adapter_name="pos")
    named.load_adapter(str(folders["neg"]), adapter_name="neg")
    for head in folders:
        torch.testing.assert_close(_logits(named, head), expected[head], atol=1e-6, rtol=0)


def test_the_saved_files_are_what_peft_save_pretrained_writes(tmp_path):
    model = _perturbed_heads("llama")
    ours = save_head(model, "neg", tmp_path / "likra", _meta("neg", spec=None))
    model.save_pretrained(str(tmp_path / "peft"), selected_adapters=["neg"])
    theirs = tmp_path / "peft" / "neg"  # save_pretrained puts a non-default adapter in a folder of its name
    tensors = {}
    for folder in (ours, theirs):
        with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
            tensors[folder] = (f.metadata(), {k: f.get_tensor(k) for k in f.keys()})
    (meta_a, a), (meta_b, b) = tensors.values()
    assert meta_a == meta_b and sorted(a) == sorted(b)
    assert not any(".neg." in k for k in a)  # the adapter name is stripped, so any name loads it
    assert all(torch.equal(a[k], b[k]) for k in a)
    config = {f: json.loads((f / "adapter_config.json").read_text()) for f in (ours, theirs)}
    for c in config.values():  # PEFT holds target_modules as a set: its listed order follows string hashing
        c["target_modules"] = sorted(c["target_modules"])
    differ = {k: (config[ours].get(k), config[theirs].get(k)) for k in {*config[ours], *config[theirs]}
              if config[ours].get(k) != config[theirs].get(k)}
    assert not differ and config[ours]["inference_mode"] is True
    assert model.peft_config["neg"].inference_mode is False  # saving did not switch the live adapter


def test_the_adapter_config_names_the_base_model_as_likra_was_given_it(tmp_path):
    model = _perturbed_heads("llama")
    folder = save_head(model, "pos", tmp_path / "pos", _meta("pos", spec="HuggingFaceTB/SmolLM2-135M"))
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        "HuggingFaceTB/SmolLM2-135M"


# ---- a tiny real run: its heads load with AutoPeft and with the card's own snippet ---------------------
needs_data = pytest.mark.skipif(not (data_root() / "arc").is_dir(), reason="benchmark data not found")


@pytest.fixture(scope="module")
def tiny_run(model_dir, tmp_path_factory):
    """A finished run of both heads on 4 questions (checkpoints 1, 2, 4), on the tiny folder model."""
    from likra.config import DataConfig, ModelConfig, TrainConfig, TrainRunConfig
    from likra.pipeline import train_run

    run = tmp_path_factory.mktemp("runs") / "run"
    cfg = TrainRunConfig(model=ModelConfig(spec=str(model_dir)), data=DataConfig(n_train=4, seed=3),
                         train=TrainConfig(lr=1e-2, batch_size=4, seed=5))
    train_run(cfg, run, progress=False)
    return run


def _likra_logits(model_dir, run, head: str) -> torch.Tensor:
    from likra.models.likra_model import load_likra

    likra = load_likra(str(model_dir), run, checkpoint=4)
    return _logits(likra.model, head)


@needs_data
def test_a_run_head_loads_with_auto_peft_from_its_config_alone(tiny_run, model_dir):
    from peft import AutoPeftModelForCausalLM

    plain = AutoPeftModelForCausalLM.from_pretrained(str(tiny_run / "neg" / "checkpoint-000004"))
    torch.testing.assert_close(_logits(plain), _likra_logits(model_dir, tiny_run, "neg"), atol=1e-6, rtol=0)


@needs_data
def test_the_cards_peft_snippet_runs_and_gives_likras_logits(tiny_run, model_dir, monkeypatch):
    card = (tiny_run / "pos" / "checkpoint-000004" / "README.md").read_text()
    snippet = re.findall(r"```python\n(.*?)```", card, re.S)[-1]
    monkeypatch.chdir(tiny_run)  # the snippet names the head by its place in the run
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - the card's own instructions, run as a reader would
    torch.testing.assert_close(_logits(scope["model"]), _likra_logits(model_dir, tiny_run, "pos"), atol=1e-6, rtol=0)


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    header = card.split("---\n")[1]
    try:
        import yaml
    except ImportError:  # the simple check: "key: value" lines and "- item" list lines only
        assert all(re.match(r"^(\w+: .*|\w+:|- \".*\")$", line) for line in header.splitlines())
        return {}
    return yaml.safe_load(header)


@needs_data
def test_every_saved_head_carries_a_card_stating_what_it_is(tiny_run, model_dir):
    card = (tiny_run / "neg" / "checkpoint-000004" / "README.md").read_text()
    header = _front_matter(card)
    if header:
        assert header["library_name"] == "peft" and header["base_model"] == str(model_dir)
        assert {"likra", "lora", "nll", "near-miss", "likra-neg-head"} <= set(header["tags"])
    for fact in (f"| Base model | `{model_dir}` (llama, ", "| Base model sha256 | not recorded",
                 "| Negatives of the run | near-miss: a wrong choice of the same question (picked at random) |",
                 "| Examples seen | 4 |", "| Seed | 5 |", "| Training questions | 4 |", "| Objective | `nll` |",
                 "`arc/ARC-Easy-train.jsonl`", "| Kept out of training | `arc/ARC-Challenge-test.jsonl` |",
                 "Accuracy of its run: not evaluated.", 'likra.load("RUN_DIR")',
                 "likra eval --run RUN_DIR --checkpoints 4",
                 'PeftModel.from_pretrained(base, "neg/checkpoint-000004", adapter_name="neg")',
                 f'AutoModelForCausalLM.from_pretrained("{model_dir}")', "trained with next-token NLL on the wrong"):
        assert fact in card, fact
    for head in ("pos", "neg"):
        assert sorted(p.name for p in (tiny_run / head / "checkpoint-000002").iterdir()) == [
            "README.md", "adapter_config.json", "adapter_model.safetensors", "likra-head.json"]


@needs_data
def test_a_card_is_rendered_again_with_its_runs_accuracy(tiny_run, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_run / "pos" / "checkpoint-000004", tmp_path / "pos" / "checkpoint-000004")
    write_card(folder, {"arc_challenge test, Likra (w=1)": 0.4125})
    card = (folder / "README.md").read_text()
    assert "- arc_challenge test, Likra (w=1): 41.2%" in card and "not evaluated" not in card


# ---- the card as a pure function ----------------------------------------------------------------------
def _record(**changes) -> dict:
    record = {"head": "pos", "examples_seen": 64,
              "base_model": {"spec": "smollm2-135m", "kind": "named", "path": "/home/u/.cache/likra/models/s-ab",
                             "sha256": "ab" * 32, "model_type": "llama", "n_params": 134515008, "add_bos": True},
              "train": {"config": {"lr": 1e-4, "batch_size": 8, "epochs": 1, "seed": 2,
                                   "objective": {"name": "dpo", "beta": 0.1, "gamma": None}},
                        "data": {"train_source": ["/home/u/data/arc/ARC-Easy-train.jsonl"], "used": 64,
                                 "negative_kind": "near-miss", "negative_strategy": "hardest",
                                 "excluded_as_leaks": "leak check: removed 3\n  e.g. a -> b"},
                        "pairs_fingerprint": "0123abcd"},
              "versions": {"likra": "0.1.0", "peft": "0.21.2"}}
    record.update(changes)
    return record


def test_the_card_states_a_named_models_sha256_and_a_hardest_near_miss():
    card = render_card(_record(), accuracy=0.5, location="pos/checkpoint-000064")
    assert _front_matter(card).get("tags", ["near-miss-hardest", "dpo"])[-2:] == ["dpo", "near-miss-hardest"]
    for fact in (f"| Base model sha256 | `{'ab' * 32}` |", "(the one the base model scores highest)",
                 "| Objective | `dpo` (beta=0.1) |", "The one trained head of a `dpo` run", "| Seed | 2 |",
                 "| Leak check | removed 3 |", "Accuracy of its run: 50.0%", "| BOS before every text | yes |",
                 'base = likra.load_model("smollm2-135m").model'):
        assert fact in card, fact
    assert "/home/u" not in card  # no path of the machine it was trained on: data files show as folder/file


def test_a_record_without_training_details_still_renders():
    card = render_card({"head": "neg", "examples_seen": 1, "base_model": {}})
    assert "| Negatives of the run | not recorded |" in card and "| Seed | not recorded |" in card
    assert "base_model" not in card.split("---\n")[1]  # no spec: no base_model line, not an empty one
    assert card_facts(_meta("neg")).base_spec == "tiny-base"  # a HeadMeta is read like its dict


def test_front_matter_survives_odd_characters_in_the_spec():
    spec = 'C:\\models\\my "tiny": model|v2'
    card = render_card(_record(base_model={"spec": spec, "kind": "folder"}))
    header = _front_matter(card)
    if header:
        assert header["base_model"] == spec
    assert "my \"tiny\": model\\|v2" in card  # the table cell's '|' is escaped
