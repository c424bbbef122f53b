"""The README.md (a Hugging Face model card) each saved head carries: what it is and how to load it.

Pure functions: a head record (`HeadMeta` or the dict of likra-head.json) in, markdown out. The YAML
front matter is written by hand with JSON-quoted strings, which YAML reads as double-quoted scalars,
so no YAML library is needed and odd characters in a path or spec cannot break the header.
Torch-free and stdlib only: a card can be rendered again (with the run's accuracy) without a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["CardFacts", "card_facts", "render_card"]

NOT_RECORDED = "not recorded"

_NEGATIVES = {
    "near-miss": "near-miss: a wrong choice of the same question",
    "irrelevant": "irrelevant: the gold answer of another question of the same benchmark",
    "unrelated": "unrelated: a gold answer from another benchmark",
}
_STRATEGIES = {
    "random": "picked at random",
    "hardest": "the one the base model scores highest",
    "easiest": "the one the base model scores lowest",
}


@dataclass(frozen=True)
class CardFacts:
    """What a card states about one saved head, read out of its record (None: not recorded)."""

    head: str
    """'pos' or 'neg'."""
    examples_seen: int | None
    """Training examples the head had seen when saved (its checkpoint number)."""
    base_spec: str | None
    """The base model as likra was given it (named model, folder, .gguf or hub id)."""
    base_kind: str | None
    """How likra found it: named | folder | gguf | hub."""
    base_sha256: str | None
    """sha256 of the base model's .gguf source (likra records it for named and .gguf models only)."""
    base_type: str | None
    """transformers model_type, e.g. 'llama'."""
    base_params: int | None
    """Parameters of the base model."""
    add_bos: bool | None
    """Whether likra puts BOS before every text it scores or trains on."""
    objective: str
    """The training loss: 'nll' (Likra: each head on its own answers) or a single-head objective."""
    objective_params: dict[str, float] = field(default_factory=dict)
    """The objective's hyper-parameters that were set (beta, gamma, alpha)."""
    negative_kind: str | None = None
    """The run's negatives: near-miss, irrelevant or unrelated."""
    negative_strategy: str | None = None
    """Which wrong choice a near-miss is: random, hardest or easiest."""
    train_files: tuple[str, ...] = ()
    """Training data files (folder/name only: a card must not carry a home directory)."""
    eval_files: tuple[str, ...] = ()
    """Evaluation files whose questions were kept out of training."""
    questions_used: int | None = None
    """Training questions after leak removal and sampling."""
    leak_check: str | None = None
    """One line on the evaluation questions removed from training."""
    seed: int | None = None
    """Seed of the training order and the heads' initial weights (train.seed)."""
    lr: float | None = None
    """Learning rate."""
    batch_size: int | None = None
    """Examples per optimiser step."""
    epochs: int | None = None
    """Passes over the training examples."""
    fingerprint: str | None = None
    """Hash of exactly what the head was trained on."""
    versions: dict[str, str] = field(default_factory=dict)
    """Library versions at save time."""


def _as_dict(meta: Any) -> dict:
    return asdict(meta) if is_dataclass(meta) and not isinstance(meta, type) else dict(meta)


def _short_path(path: str) -> str:
    return "/".join(PurePath(path).parts[-2:])


def card_facts(meta: Any) -> CardFacts:
    """The facts a card states, from a HeadMeta or its dict; a field the record lacks reads as None."""
    m = _as_dict(meta)
    base, train = m.get("base_model") or {}, m.get("train") or {}
    cfg, data = train.get("config") or {}, train.get("data") or {}
    objective = cfg.get("objective") or {}
    leaks = data.get("excluded_as_leaks")
    return CardFacts(
        head=str(m.get("head") or "pos"), examples_seen=m.get("examples_seen"),
        base_spec=base.get("spec"), base_kind=base.get("kind"),
        base_sha256=base.get("sha256"), base_type=base.get("model_type"), base_params=base.get("n_params"),
        add_bos=base.get("add_bos"), objective=objective.get("name") or "nll",
        objective_params={k: v for k, v in objective.items() if k != "name" and v is not None},
        negative_kind=data.get("negative_kind"), negative_strategy=data.get("negative_strategy"),
        train_files=tuple(_short_path(p) for p in data.get("train_source") or ()),
        eval_files=tuple(_short_path(p) for p in data.get("eval_source") or ()),
        questions_used=data.get("used"),
        # the first line is the count; the rest lists example question ids
        leak_check=str(leaks).splitlines()[0].removeprefix("leak check: ") if leaks else None,
        seed=cfg.get("seed"), lr=cfg.get("lr"), batch_size=cfg.get("batch_size"), epochs=cfg.get("epochs"),
        fingerprint=train.get("pairs_fingerprint"), versions=dict(m.get("versions") or {}),
    )


def _q(value: Any) -> str:
    """A YAML scalar: JSON's double-quoted string is valid YAML."""
    return json.dumps(str(value))


def _negative_text(f: CardFacts) -> str:
    if f.negative_kind is None:
        return NOT_RECORDED
    text = _NEGATIVES.get(f.negative_kind, f.negative_kind)
    if f.negative_kind == "near-miss" and f.negative_strategy:
        text += f" ({_STRATEGIES.get(f.negative_strategy, f.negative_strategy)})"
    return text


def _tags(f: CardFacts) -> list[str]:
    tags = ["likra", "lora", "peft", f"likra-{f.head}-head", f.objective]
    if f.negative_kind:
        plain = f.negative_strategy in (None, "random")
        tags.append(f.negative_kind if plain else f"{f.negative_kind}-{f.negative_strategy}")
    return list(dict.fromkeys(tags))


def _front_matter(f: CardFacts) -> str:
    lines = ["---", "library_name: peft"]
    if f.base_spec:
        lines.append(f"base_model: {_q(f.base_spec)}")
    lines += ["pipeline_tag: text-generation", "tags:", *(f"- {_q(t)}" for t in _tags(f)), "---"]
    return "\n".join(lines)


def _role(f: CardFacts) -> str:
    """What the head learned, in one sentence: it depends on the objective and on which head it is."""
    if f.objective == "nll":
        learned = "the gold answers" if f.head == "pos" else "the wrong answers (the negatives below)"
        return (f"The **{f.head}** head of a Likra run: a LoRA adapter trained with next-token NLL on {learned} "
                "of the training questions, answer tokens only. Likra scores an answer by "
                "log p_pos(answer | context) - w * log p_neg(answer | context).")
    return (f"The one trained head of a `{f.objective}` run (stored as '{f.head}'): a LoRA adapter trained on each "
            "training question's gold answer against its wrong answers (the negatives below).")


def _fmt(value: Any) -> str:
    return NOT_RECORDED if value is None or value == "" else str(value)


def _accuracy_lines(accuracy: float | Mapping[str, float] | None) -> list[str]:
    if accuracy is None:
        return ["Accuracy of its run: not evaluated."]
    if isinstance(accuracy, Mapping):
        return ["Accuracy of its run:", "", *(f"- {name}: {value:.1%}" for name, value in accuracy.items())]
    return [f"Accuracy of its run: {accuracy:.1%}"]


def _facts_table(f: CardFacts) -> list[str]:
    params = f" ({', '.join(f'{k}={v}' for k, v in f.objective_params.items())})" if f.objective_params else ""
    size = f"{f.base_params:,} parameters" if isinstance(f.base_params, int) else None
    base = ", ".join(x for x in (f.base_type, size, f.base_kind) if x)
    rows = [
        ("Base model", f"`{f.base_spec}`" + (f" ({base})" if base else "") if f.base_spec else NOT_RECORDED),
        ("Base model sha256", f"`{f.base_sha256}`" if f.base_sha256 else
         f"{NOT_RECORDED} (likra hashes the .gguf of named and .gguf models only)"),
        ("BOS before every text", NOT_RECORDED if f.add_bos is None else ("yes" if f.add_bos else "no")),
        ("Objective", f"`{f.objective}`{params}"),
        ("Negatives of the run", _negative_text(f)),
        ("Training data", ", ".join(f"`{p}`" for p in f.train_files) or NOT_RECORDED),
        ("Kept out of training", ", ".join(f"`{p}`" for p in f.eval_files) or NOT_RECORDED),
        ("Training questions", _fmt(f.questions_used)),
        ("Leak check", _fmt(f.leak_check)),
        ("Examples seen", _fmt(f.examples_seen)),
        ("Seed", _fmt(f.seed)),
        ("Learning rate, batch size, epochs", ", ".join(_fmt(x) for x in (f.lr, f.batch_size, f.epochs))),
        ("Training data fingerprint", f"`{f.fingerprint}`" if f.fingerprint else NOT_RECORDED),
        ("Versions", ", ".join(f"{k} {f.versions[k]}" for k in ("likra", "peft", "transformers", "torch")
                               if k in f.versions) or NOT_RECORDED),
    ]
    return ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows)]


def _cell(text: str) -> str:
    """A table cell: a '|' in a path or spec would end the cell early."""
    return text.replace("|", "\\|")


def _base_lines(f: CardFacts) -> list[str]:
    """Loading the base model: transformers for a hub id or folder; likra for a named or .gguf model,
    which only likra turns into a transformers model (its converted copy lives in a local cache)."""
    if f.base_kind in (None, "hub", "folder"):
        return ["from transformers import AutoModelForCausalLM", "",
                f"base = AutoModelForCausalLM.from_pretrained({json.dumps(f.base_spec or 'BASE_MODEL')})"]
    return ["import likra", "", f"base = likra.load_model({json.dumps(f.base_spec)}).model  "
            "# likra converts the .gguf into a transformers model"]


def _loading(f: CardFacts, location: str) -> list[str]:
    seen = f.examples_seen if f.examples_seen is not None else "N"
    return [
        "## Load it with likra", "",
        "RUN_DIR is the run this head belongs to: the folder holding `pos/` (and `neg/`), or the hub id of a repo "
        "holding it.", "",
        "```python", "import likra", "",
        'model = likra.load("RUN_DIR")  # the run\'s heads at the end of training', "```", "",
        "```bash", f"likra eval --run RUN_DIR --checkpoints {seen}",
        f'likra score --run RUN_DIR --checkpoint {seen} --question "..." --answers "..." "..."', "```", "",
        "## Load it with plain PEFT", "",
        f"This folder is `{location}` of its run; on the hub, pass the repo id and `subfolder=\"{location}\"`.", "",
        "```python", "from peft import PeftModel", *_base_lines(f),
        f'model = PeftModel.from_pretrained(base, "{location}", adapter_name="{f.head}")', "```",
    ]


def render_card(meta: Any, accuracy: float | Mapping[str, float] | None = None,
                location: str | None = None) -> str:
    """The model card of one saved head.

    meta: a HeadMeta or the dict of its likra-head.json. accuracy: the accuracy of the head's run as a
    fraction, or {label: fraction} (e.g. per rule), or None ("not evaluated"). location: the head's
    folder inside its run, e.g. 'pos/checkpoint-000064' (default: the head's name).
    """
    f = card_facts(meta)
    title = f"likra {f.head} head" + (f" after {f.examples_seen} examples" if f.examples_seen is not None else "")
    body = [_front_matter(f), "", f"# {title}", "", _role(f), "", *_facts_table(f), "",
            *_accuracy_lines(accuracy), "", *_loading(f, location or f.head), ""]
    return "\n".join(body)
