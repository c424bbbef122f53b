"""Sample short candidate answers from the base model: K per question, seeded, one line each.

This is how `likra mine` finds the wrong answers the model itself believes. Sampling runs with the
heads switched off (a PEFT model's adapters disabled), stops each sequence at the first newline
after its answer has begun (models often start a line break before answering), and returns the
answers cleaned: the first non-empty line, stripped, empties dropped and near-duplicates ('Paris',
'paris.') kept once, in the order they were first sampled.

Reproducible: the same seed, batch size and device give the same answers. Each batch is sampled
from its own generator state, derived from (seed, batch index), inside `torch.random.fork_rng`, so
the caller's random state is left as it was.
"""

from __future__ import annotations

import random
import re
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from likra.checks import above, at_least, checked
from likra.data.user_rows import USER_TEMPLATE

DEFAULT_TEMPLATE = USER_TEMPLATE
"""'Question: {question}\\nAnswer:', the prompt user-file questions are trained and scored after."""


@dataclass(frozen=True)
class SamplingConfig:
    """How candidate answers are sampled (`likra mine` flags of the same names)."""

    k: int = 8
    """Sequences sampled per question (before empties and duplicates are dropped)."""
    seed: int = 0
    """Seed of the sampling: the same seed (and batch size, and device) gives the same answers."""
    max_new_tokens: int = 32
    """Longest answer in tokens; a sequence stops earlier at the newline that ends its first
    non-empty line, or at end-of-text."""
    temperature: float = 1.0
    """Softmax temperature (1 = the model's own distribution)."""
    top_p: float = 0.95
    """Nucleus sampling: draw from the smallest set of tokens holding this much probability."""
    batch_size: int = 8
    """Questions per `generate` call (each gives k sequences, so k * batch_size rows)."""

    SECTION: ClassVar[str] = "sample"

    def __post_init__(self) -> None:
        at_most_1 = lambda v: above(0)(v) or (None if v <= 1 else "must be <= 1")  # noqa: E731
        checked(self, k=at_least(1), seed=at_least(0), max_new_tokens=at_least(1), temperature=above(0),
                top_p=at_most_1, batch_size=at_least(1))


def dedup_key(answer: str) -> str:
    """Two answers are the same candidate when equal after casefolding, collapsing whitespace and
    stripping trailing punctuation ('The sun.' == 'the  sun'; 'the sun' != 'sun')."""
    text = " ".join(answer.casefold().split())
    return re.sub(r"[\W_]+$", "", text)


def clean_answers(raw: Sequence[str]) -> list[str]:
    """Raw sampled continuations -> answers: each its first non-empty line, stripped; empty ones
    dropped; later duplicates (by `dedup_key`) dropped, keeping the first occurrence and order."""
    out, seen = [], set()
    for text in raw:
        answer = text.lstrip().split("\n", 1)[0].strip()
        key = dedup_key(answer)
        if answer and key not in seen:
            seen.add(key)
            out.append(answer)
    return out


def generate_answers(model: Any, question: str, k: int, seed: int, max_new_tokens: int = 32,
                     temperature: float = 1.0, top_p: float = 0.95, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """Up to `k` distinct one-line answers to `question` sampled from the base model of `model` (a
    LikraModel or a LoadedModel), after `template` formatted with the question."""
    cfg = SamplingConfig(k=k, seed=seed, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                         batch_size=1)
    return generate_for(model, [question], cfg, template=template)[0]


def generate_for(model: Any, questions: Sequence[str], cfg: SamplingConfig, template: str = DEFAULT_TEMPLATE,
                 progress: bool = False, journal: str | Path | None = None) -> list[list[str]]:
    """`generate_answers` for many questions, `cfg.batch_size` questions per `generate` call (left
    padded); one cleaned answer list per question, in order. `journal`: see `sample_raw`."""
    return [clean_answers(raw) for raw in sample_raw(model, questions, cfg, template, progress, journal)]


def sample_raw(model: Any, questions: Sequence[str], cfg: SamplingConfig, template: str = DEFAULT_TEMPLATE,
               progress: bool = False, journal: str | Path | None = None) -> list[list[str]]:
    """The decoded new text of each of the k sequences per question, before any cleaning (a
    sequence that stopped at a newline ends with it). With `journal` (a file), each batch is saved as
    it is sampled and a rerun resumes after the last whole batch, with the same samples as an
    uninterrupted run (journal.py); the caller removes the journal once its result is saved."""
    from tqdm.auto import tqdm

    hf_model, tokenizer, prefix = _parts(model)
    prompts = [template.format(question=q) for q in questions]
    log = None
    if journal is not None:
        from likra.mining.journal import SampleJournal, fingerprint

        identity = getattr(getattr(model, "loaded", model), "scores_identity", None)
        log = SampleJournal(journal, fingerprint(prompts, asdict(cfg) | {"prefix": prefix}, identity),
                            cfg.batch_size, len(prompts))
    out: list[list[str]] = log.done() if log else []
    with tqdm(total=len(prompts), initial=len(out), desc="sampling", unit="q", disable=not progress) as bar:
        for b, start in enumerate(range(0, len(prompts), cfg.batch_size)):
            if start < len(out):  # saved by an earlier, cut-off run
                continue
            batch = prompts[start:start + cfg.batch_size]
            samples = _sample_batch(hf_model, tokenizer, prefix, batch, cfg, _batch_seed(cfg.seed, b))
            if log:
                log.append(samples)
            out += samples
            bar.update(len(batch))
    return out


def _batch_seed(seed: int, batch: int) -> int:
    # A string seed goes through sha512 in `random`: stable across runs and processes, and seeds
    # (0, batch 1) and (1, batch 0) do not collide as seed + batch would.
    return random.Random(f"likra-sample:{seed}:{batch}").getrandbits(63)


def _parts(model: Any) -> tuple[Any, Any, list[int]]:
    """(model to generate with, tokenizer, prefix ids) from a LikraModel or a LoadedModel."""
    loaded = getattr(model, "loaded", model)  # a LikraModel holds its LoadedModel as .loaded
    hf = model.model if hasattr(model, "loaded") else (loaded.peft_model or loaded.model)
    return hf, loaded.tokenizer, list(loaded.prefix_token_ids)


def _sample_batch(hf_model: Any, tokenizer: Any, prefix: list[int], prompts: list[str], cfg: SamplingConfig,
                  seed: int) -> list[list[str]]:
    import torch
    from contextlib import nullcontext

    ids, mask = _left_padded(tokenizer, prefix, prompts, _pad_id(tokenizer))
    device = next(hf_model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    # the heads must not shape the candidates: mining wants what the base model believes
    heads_off = hf_model.disable_adapter() if hasattr(hf_model, "disable_adapter") else nullcontext()
    devices = [device] if device.type == "cuda" else []
    eos = _eos_ids(hf_model, tokenizer)
    with torch.random.fork_rng(devices=devices), torch.inference_mode(), heads_off:
        torch.manual_seed(seed)
        seqs = hf_model.generate(
            input_ids=ids, attention_mask=mask, do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p,
            top_k=0, max_new_tokens=cfg.max_new_tokens, num_return_sequences=cfg.k, pad_token_id=_pad_id(tokenizer),
            stopping_criteria=_newline_stop(tokenizer, ids.shape[1]), eos_token_id=eos or None)
    new = seqs[:, ids.shape[1]:].tolist()
    texts = [_decode_until_stop(row, tokenizer, set(eos)) for row in new]
    return [texts[i * cfg.k:(i + 1) * cfg.k] for i in range(len(prompts))]  # generate repeats each prompt k times


def _eos_ids(hf_model: Any, tokenizer: Any) -> list[int]:
    """Every end-of-text id: the model's generation config may list several (chat models end a turn
    with their own token), plus the tokenizer's."""
    config_eos = getattr(getattr(hf_model, "generation_config", None), "eos_token_id", None)
    ids = config_eos if isinstance(config_eos, list) else [config_eos]
    return sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None})


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return pad if pad is not None else 0


def _left_padded(tokenizer: Any, prefix: list[int], prompts: list[str], pad: int):
    """Prompt ids (model prefix such as BOS first) left-padded to one length, and their mask."""
    import torch

    # trailing spaces belong to the answer (as in likra.ops.tokenize.encode_pair): the model writes ' x'
    rows = [prefix + tokenizer(p.rstrip(), add_special_tokens=False)["input_ids"] for p in prompts]
    rows = [r or [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else pad] for r in rows]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def _decode_until_stop(row: list[int], tokenizer: Any, eos: set[int]) -> str:
    # Finished rows are padded after their stop, and the pad id may be a real token (eos): decode
    # up to the first eos, and up to the newline token that ended the first non-empty line.
    row = row[:next((i for i, t in enumerate(row) if t in eos), len(row))]
    newlines = _newline_ids(tokenizer)
    for i, t in enumerate(row):
        if t in newlines and _ends_a_line(tokenizer.decode(row[:i + 1], skip_special_tokens=True)):
            return tokenizer.decode(row[:i + 1], skip_special_tokens=True)
    return tokenizer.decode(row, skip_special_tokens=True)


def _ends_a_line(text: str) -> bool:
    """Whether `text` has a newline after some non-space text (leading line breaks do not count)."""
    return "\n" in text.lstrip()


_NEWLINE_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _newline_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokens whose text holds a newline (a vocabulary scan, once per tokenizer)."""
    if tokenizer not in _NEWLINE_IDS:
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        _NEWLINE_IDS[tokenizer] = frozenset(i for i, t in enumerate(texts) if "\n" in t)
    return _NEWLINE_IDS[tokenizer]


def _newline_stop(tokenizer: Any, prompt_length: int):
    """A StoppingCriteria that ends a sequence at the newline that ends its first non-empty line."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    ids = torch.tensor(sorted(_newline_ids(tokenizer)), dtype=torch.long)

    class NewlineStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            # cheap test first (is the last token a newline?), the decode only for those rows
            stop = torch.isin(input_ids[:, -1], ids.to(input_ids.device))
            for r in stop.nonzero().flatten().tolist():
                new = input_ids[r, prompt_length:].tolist()
                stop[r] = _ends_a_line(tokenizer.decode(new, skip_special_tokens=True))
            return stop

    return StoppingCriteriaList([NewlineStop()])
