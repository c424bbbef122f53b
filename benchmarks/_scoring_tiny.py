"""`--tiny`: a tiny random llama and a byte-level BPE tokenizer, built in-process and saved to a folder.

Nothing is downloaded. The tokenizer is trained on a few hundred lines of the local benchmark files
so prompts tokenize to a realistic number of tokens (a 25-shot ARC prompt stays well under the
model's 4096 positions, so lm-eval never truncates). It adds no BOS, like SmolLM2's: both sides then
score without a prefix token. The folder loads with `likra.models.loading.load_model(folder)` and with
lm-eval's `HFLM(pretrained=folder)`.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import torch

_SOURCES = (  # (file, fields) whose text trains the tokenizer
    ("arc/ARC-Challenge-train.jsonl", ("question.stem",)),
    ("hellaswag/validation.jsonl", ("ctx", "endings")),
    ("winogrande/train_l.jsonl", ("sentence",)),
)


def _texts(data_root: Path, lines_per_file: int = 300):
    for rel, fields in _SOURCES:
        with open(data_root / rel, encoding="utf-8") as f:
            for line in islice(f, lines_per_file):
                row = json.loads(line)
                for name in fields:
                    value = row
                    for part in name.split("."):
                        value = value[part]
                    yield from (value if isinstance(value, list) else [value])


def build_tokenizer(data_root: Path, vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_texts(data_root), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def build_tiny_model(folder: Path, data_root: Path, seed: int = 0) -> Path:
    """Write a tiny random LlamaForCausalLM + tokenizer into `folder`; return it."""
    import transformers as tf

    tokenizer = build_tokenizer(data_root)
    torch.manual_seed(seed)
    cfg = tf.LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = tf.LlamaForCausalLM(cfg)
    # Random init gives nearly uniform predictions, so choices would almost tie; a larger output
    # head makes log-likelihoods differ clearly, and accuracy comparisons meaningful.
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(20)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
