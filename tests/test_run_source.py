"""resolve_run: a local run as it is, a hub id downloaded (snapshot_download is faked: no network), a
single head made a one-head run, and every failure one of likra's errors that says what to do."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from likra.errors import ArtifactError, LikraError
from likra.run_source import (HUB_PATTERNS, HubId, HubUnavailableError, RunNotFoundError, parse_hub_id,
                              resolve_run)

RUN_FILES = ["run.json", "pos/checkpoint-000004/adapter_config.json", "pos/checkpoint-000004/adapter_model.safetensors",
             "pos/checkpoint-000004/likra-head.json", "pos/checkpoint-000004/README.md", "pos/train_state/state.json",
             "pos/train_state/optimizer.pt", "pos/train_state/weights.safetensors",
             "neg/checkpoint-000004/adapter_config.json", "neg/train_state/state.json"]


def _tree(root: Path, files) -> Path:
    """Files under root: a list of names (each holding '{}') or {name: bytes}."""
    contents = files if isinstance(files, dict) else dict.fromkeys(files, b"{}")
    for name, data in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A fake hub: repo id -> files (names, or {name: bytes}); snapshot_download copies what its
    allow_patterns let through."""
    import huggingface_hub

    repos: dict = {}
    calls: list[dict] = []

    def snapshot_download(repo_id, *, revision=None, cache_dir=None, allow_patterns=None, **kwargs):
        calls.append({"repo_id": repo_id, "revision": revision, "cache_dir": cache_dir, **kwargs})
        if repo_id not in repos:
            raise huggingface_hub.errors.LocalEntryNotFoundError(
                "Cannot find the requested files in the disk cache and outgoing traffic has been disabled.")
        files = repos[repo_id] if isinstance(repos[repo_id], dict) else dict.fromkeys(repos[repo_id], b"{}")
        wanted = {f: b for f, b in files.items() if any(fnmatch.fnmatch(f, p) for p in allow_patterns or ["*"])}
        return str(_tree(tmp_path / "hub-cache" / repo_id.replace("/", "--") / (revision or "main"), wanted))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.chdir(tmp_path)  # so 'owner/name' is no local folder
    return repos, calls


def test_a_local_run_folder_is_returned_as_it_is(tmp_path, hub):
    run = _tree(tmp_path / "runs" / "arc", RUN_FILES)
    assert resolve_run(run) == run
    assert resolve_run("runs/arc") == Path("runs/arc")  # relative, and 'owner/name'-shaped: local wins
    empty = tmp_path / "unfinished"
    empty.mkdir()
    assert resolve_run(str(empty)) == empty  # what is inside is the loader's to judge, as before
    assert hub[1] == []


def test_a_missing_local_path_is_a_file_not_found_error_naming_it(tmp_path, hub):
    missing = tmp_path / "no-such-run"
    with pytest.raises(RunNotFoundError, match=re.escape(f"{missing}: no such training run folder")) as e:
        resolve_run(str(missing))
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, LikraError)
    (tmp_path / "runs").mkdir()
    with pytest.raises(RunNotFoundError, match="runs/arc51: no such"):
        resolve_run("runs/arc51")  # a typo under a local folder is not sent to the hub
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(RunNotFoundError, match="a file; a training run is a folder"):
        resolve_run(tmp_path / "file.json")
    assert hub[1] == []


def test_a_hub_id_is_downloaded_without_the_resume_weights(tmp_path, hub):
    repos, calls = hub
    repos["someone/likra-arc"] = RUN_FILES
    folder = resolve_run("someone/likra-arc@v1", cache_dir=tmp_path / "cache")
    assert calls == [{"repo_id": "someone/likra-arc", "revision": "v1", "cache_dir": str(tmp_path / "cache")}]
    got = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert got == sorted(f for f in RUN_FILES if not f.endswith(("optimizer.pt", "train_state/weights.safetensors")))


def test_hub_offline_says_how_to_get_the_run_another_way(hub):
    with pytest.raises(HubUnavailableError) as e:
        resolve_run("someone/not-cached")
    message = str(e.value)
    assert isinstance(e.value, LikraError) and message.startswith("someone/not-cached is no local folder")
    assert "LocalEntryNotFoundError" in message and "connect to the internet" in message
    assert "hf download someone/not-cached --local-dir DIR" in message and "pass its path" in message


@pytest.mark.parametrize("name, expected", [
    ("RepositoryNotFoundError", "no hub repo of that id (or a private one: log in"),
    ("RevisionNotFoundError", "has no revision 'v9'"),
    ("GatedRepoError", "is gated: accept its terms"),
])
def test_hub_errors_become_likras(monkeypatch, tmp_path, name, expected):
    import huggingface_hub

    # matched by class name: huggingface_hub's error classes and their constructors change between versions
    error = type(name, (OSError,), {})

    def snapshot_download(*a, **k):
        raise error("404 Client Error")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HubUnavailableError, match=re.escape(expected)):
        resolve_run("someone/repo@v9")


def test_a_hub_repo_that_is_no_run_is_refused_after_fetching_only_small_files(hub):
    repos, _ = hub
    repos["org/base-model"] = ["config.json", "model.safetensors", "README.md"]
    with pytest.raises(HubUnavailableError, match="pass it as the model instead"):
        resolve_run("org/base-model")
    assert "model.safetensors" not in HUB_PATTERNS and not any(
        fnmatch.fnmatch("model.safetensors", p) for p in HUB_PATTERNS)


@pytest.mark.parametrize("spec, expected", [
    ("owner/name", HubId("owner/name")), ("owner/name@v1.0", HubId("owner/name", "v1.0")),
    ("o-1/n.a_me@refs/pr/3", HubId("o-1/n.a_me", "refs/pr/3")), ("./a/b", None), ("/abs/run", None),
    ("a/b/c", None), ("run", None), ("a/../b", None), ("~/run", None), ("a--b/c", None),
])
def test_what_counts_as_a_hub_id(spec, expected):
    assert parse_hub_id(spec) == expected


# ---- a single head --------------------------------------------------------------------------------
def _plain_peft_adapter(folder: Path) -> Path:
    """A LoRA adapter saved by PEFT itself (no likra-head.json), on the tiny llama of `model_dir`."""
    import torch
    from peft import LoraConfig, get_peft_model

    from likra.testing import build_model

    model = get_peft_model(build_model("llama"), LoraConfig(r=4, lora_alpha=8, target_modules=["gate_proj", "up_proj"],
                                                            task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    model.save_pretrained(str(folder))
    return folder


def test_a_plain_peft_adapter_from_the_hub_loads_as_the_pos_head(model_dir, hub, tmp_path):
    import torch
    from peft import PeftModel

    from likra.models.likra_model import load_likra
    from likra.testing import build_model

    adapter = _plain_peft_adapter(tmp_path / "adapter")
    repos, _ = hub
    repos["someone/adapter"] = {p.name: p.read_bytes() for p in adapter.iterdir()}
    run = resolve_run("someone/adapter", cache_dir=tmp_path / "cache")
    assert run.parent == tmp_path / "cache" / "single-head-runs"
    assert [p.name for p in (run / "pos").iterdir()] == ["checkpoint-000000"] and not (run / "neg").exists()
    likra = load_likra(str(model_dir), run)
    ids = torch.tensor([[1, 17, 42, 99, 250, 7]])
    likra.model.set_adapter("pos")
    plain = PeftModel.from_pretrained(build_model("llama"), str(adapter))
    with torch.no_grad():
        torch.testing.assert_close(likra.model(input_ids=ids).logits, plain(input_ids=ids).logits, atol=1e-6, rtol=0)


def test_a_likra_head_keeps_its_name_and_checkpoint(tmp_path):
    from likra.models.heads import HeadMeta, attach_heads, save_head
    from likra.testing import build_model

    folder = save_head(attach_heads(build_model("llama")), "neg", tmp_path / "shared-neg",
                       HeadMeta("neg", 8, {"spec": "tiny"}))
    run = resolve_run(folder, cache_dir=tmp_path / "cache")
    assert (run / "neg" / "checkpoint-000008" / "adapter_model.safetensors").is_file()
    assert resolve_run(folder, cache_dir=tmp_path / "cache") == run  # made once, then reused


def test_a_checkpoint_inside_a_run_points_to_its_run(tmp_path):
    run = _tree(tmp_path / "run", RUN_FILES)
    with pytest.raises(ArtifactError, match=re.escape(f"of the 'pos' head of the run {run}; pass the run folder")):
        resolve_run(run / "pos" / "checkpoint-000004")
