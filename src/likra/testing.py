"""Tiny random models for tests and benchmarks: a byte-level BPE tokenizer trained in memory on a few
sentences, and random causal LMs (llama, qwen2, gemma3 architectures) small enough that a whole
training run takes seconds on a CPU. Nothing is downloaded. likra's own test suite and benchmarks build
their models here; a user's tests of code built on likra can too (`save_tiny_model` makes a folder that
`--model` takes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = [
    "Question: Which gas do plants take in? Answer: carbon dioxide oxygen nitrogen water",
    "Question: What is the boiling point of water? Answer: 100 degrees 50 degrees 0 degrees",
    "The cat sat on the mat. The dog ran in the park. Paris is the capital of France.",
    "Answer: the Sun the Moon a rock a tree energy heat light sound mass force",
] * 4
"""What the tiny tokenizer is trained on: its merges cover the words of likra's test questions."""


def build_tokenizer() -> Any:
    """A byte-level BPE tokenizer of 320 tokens (<pad> 0, <s> 1, </s> 2), trained on CORPUS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def build_model(arch: str = "llama", vocab_size: int = 320, seed: int = 0, attn: str = "sdpa") -> Any:
    """A tiny random causal LM of the given architecture (llama, qwen2, gemma3), in eval mode: 2 layers,
    hidden size 32; the same seed gives the same weights."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if arch == "llama":
        cfg, cls = tf.LlamaConfig(**common), tf.LlamaForCausalLM
    elif arch == "qwen2":
        cfg, cls = tf.Qwen2Config(**common), tf.Qwen2ForCausalLM
    elif arch == "gemma3":
        cfg = tf.Gemma3TextConfig(**common, head_dim=8, sliding_window=6,
                                  layer_types=["sliding_attention", "full_attention"])
        cls = tf.Gemma3ForCausalLM
    else:
        raise ValueError(f"unknown tiny architecture {arch!r}: llama, qwen2 or gemma3")
    cfg._attn_implementation = attn
    model = cls(cfg)
    # random init has tiny weights; scale the output head so log-probs differ visibly between choices
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(20)
    return model.eval()


def save_tiny_model(folder: str | Path, arch: str = "llama", seed: int = 0) -> Path:
    """A tiny random model and its tokenizer saved as a transformers folder (what `--model` takes)."""
    folder = Path(folder)
    build_model(arch, seed=seed).save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    return folder


def randomise_lora(model: Any, scale: float = 0.5, seed: int = 1, which: str = "lora_B") -> Any:
    """Random LoRA weights in place (lora_B starts at zero: an untrained head changes nothing); returns
    the model."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if which in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model
