"""Helpers of bench_training.py: the baseline recipe, the tiny CI model, and measurement utilities.

The baseline is the authors' recipe: a PEFT LoRA model trained by `transformers.Trainer` on padded
batches, the loss coming from the model's own forward (full-vocabulary logits at every position),
one head after the other. It trains on exactly likra's token ids, in likra's example order, from
the same initial adapter weights, so both loss curves can be compared step by step.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import sys
from pathlib import Path
from typing import Sequence

import torch

MLP_TARGETS = ["gate_proj", "up_proj", "down_proj"]


# ---------------------------------------------------------------- the baseline recipe


class PadCollator:
    """Right-pads a list of {"input_ids", "labels"} examples; labels -100 on the prompt and padding."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        length = max(len(e["input_ids"]) for e in examples)
        ids, mask, labels = [], [], []
        for e in examples:
            pad = length - len(e["input_ids"])
            ids.append(e["input_ids"] + [self.pad_id] * pad)
            mask.append([1] * len(e["input_ids"]) + [0] * pad)
            labels.append(e["labels"] + [-100] * pad)
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def attach_baseline_adapters(model, heads: Sequence[str], seed: int = 0):
    """PEFT LoRA r=8 alpha=8 dropout 0 on the MLP projections; head i initialised from seed + i."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=8, lora_alpha=8, lora_dropout=0.0, target_modules=MLP_TARGETS, bias="none",
                     task_type="CAUSAL_LM")
    peft_model = None
    for i, head in enumerate(heads):
        torch.manual_seed(seed + i)
        if peft_model is None:
            peft_model = get_peft_model(model, cfg, adapter_name=head)
        else:
            peft_model.add_adapter(head, cfg)
    return peft_model


def train_baseline_head(model, head: str, examples: list[tuple[list[int], list[int]]], pad_id: int,
                        out_dir: str, batch_size: int, lr: float = 1e-4, seed: int = 0) -> list[tuple[int, float]]:
    """One HF Trainer run on `examples` (ctx ids, answer ids), already in training order.

    Returns [(step, loss)], the Trainer's own per-step log.
    """
    from torch.utils.data import SequentialSampler
    from transformers import Trainer, TrainingArguments

    class SequentialTrainer(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            return SequentialSampler(self.train_dataset)

    model.set_adapter(head)  # this head trainable, the other frozen
    dataset = [{"input_ids": c + a, "labels": [-100] * len(c) + a} for c, a in examples]
    on_cpu = next(model.parameters()).device.type == "cpu"
    args = TrainingArguments(
        output_dir=out_dir, per_device_train_batch_size=batch_size, num_train_epochs=1, learning_rate=lr,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
        logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=on_cpu, bf16=False, fp16=False, seed=seed, remove_unused_columns=False,
        dataloader_num_workers=0, dataloader_drop_last=False,
    )
    trainer = SequentialTrainer(model=model, args=args, train_dataset=dataset, data_collator=PadCollator(pad_id))
    trainer.train()
    return [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]


def adapter_digest(model, head: str) -> str:
    """sha256 of a head's LoRA weights (name-sorted): equal digests = identical initial adapters."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda x: x[0]):
        if "lora_" in name and f".{head}." in name:
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- memory


def _proc_status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> float | None:
    return _proc_status_mb("VmRSS")


def hwm_mb() -> float | None:
    return _proc_status_mb("VmHWM")


def maxrss_mb() -> float:
    """Peak resident memory of this whole process (getrusage; KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


class PositionCounter:
    """Counts token positions fed to the model (padding included) with a hook on the input embeddings."""

    def __init__(self, model):
        self.positions = 0
        self.forwards = 0
        self.handle = model.get_input_embeddings().register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.positions += inputs[0].numel()
        self.forwards += 1

    def remove(self):
        self.handle.remove()


# ---------------------------------------------------------------- the tiny CI model

def save_tiny_model(folder: str | os.PathLike) -> str:
    """The test suite's tiny random llama and byte-level BPE tokenizer, saved as a transformers folder."""
    from likra import testing

    return str(testing.save_tiny_model(folder))


def tiny_pairs(n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """n synthetic (context, answer) pairs per head, of varied lengths (so batches need padding)."""
    rng = random.Random(seed)
    words = "the cat dog sat ran in park mat Paris water plants gas light heat energy rock tree Moon Sun".split()
    answers = ["carbon dioxide", "oxygen", "100 degrees", "the Sun", "a rock", "energy and heat", "water",
               "the Moon", "nitrogen", "light"]
    pos, neg = [], []
    for i in range(n):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(3, 20)))
        context = f"Question: {question}?\nAnswer:"
        gold, wrong = rng.sample(answers, 2)
        pos.append({"context": context, "answer": " " + gold})
        neg.append({"context": context, "answer": " " + wrong})
    return pos, neg
