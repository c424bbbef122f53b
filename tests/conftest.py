"""Shared fixtures: a tiny byte-level BPE tokenizer and tiny random causal LMs built from configs.

Nothing is downloaded: the tokenizer is trained on a few sentences in memory and the models are
random-initialised, so the whole suite runs in minutes on 2 CPU cores.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CORPUS = [
    "Question: Which gas do plants take in? Answer: carbon dioxide oxygen nitrogen water",
    "Question: What is the boiling point of water? Answer: 100 degrees 50 degrees 0 degrees",
    "The cat sat on the mat. The dog ran in the park. Paris is the capital of France.",
    "Answer: the Sun the Moon a rock a tree energy heat light sound mass force",
] * 4


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


def build_model(arch: str = "llama", vocab_size: int = 320, seed: int = 0, attn: str = "sdpa"):
    """A tiny random causal LM of the given architecture (llama, qwen2, gemma3)."""
    import transformers as tf

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if arch == "llama":
        cfg = tf.LlamaConfig(**common)
        cls = tf.LlamaForCausalLM
    elif arch == "qwen2":
        cfg = tf.Qwen2Config(**common)
        cls = tf.Qwen2ForCausalLM
    elif arch == "gemma3":
        cfg = tf.Gemma3TextConfig(**common, head_dim=8, sliding_window=6,
                                  layer_types=["sliding_attention", "full_attention"])
        cls = tf.Gemma3ForCausalLM
    else:
        raise ValueError(arch)
    cfg._attn_implementation = attn
    model = cls(cfg)
    # random init has tiny weights; scale the output head so log-probs differ visibly between choices
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(20)
    return model.eval()


@pytest.fixture
def tiny_model():
    return build_model("llama")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tokenizer):
    """A tiny random llama saved as a transformers folder, as `--model` takes it (read-only: shared)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    build_model("llama").save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def randomise_lora(model, scale: float = 0.5, seed: int = 1, which: str = "lora_B"):
    """Random LoRA weights in place (lora_B starts at zero: an untrained head changes nothing); returns the model."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if which in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model
