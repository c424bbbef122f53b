"""A Likra model: the base model plus the pos/neg heads of a training run, at a chosen checkpoint.

Which checkpoints may be scored together is decided here, once, for every front door (eval, score,
the API): heads are only ever paired at the same number of examples seen, and `final` needs every
head of the run finished. An unfinished run is a RunStateError that says how to finish it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from likra.config import HEAD_NAMES
from likra.errors import ArtifactError, RunStateError
from likra.io_utils import read_json_object

_CKPT = re.compile(r"checkpoint-(\d+)$")
RUN_FILE = "run.json"
STATE_FILE = Path("train_state") / "state.json"
FINISH_HINT = "finish it by rerunning the same `likra train` command (it resumes where it stopped)"


def head_checkpoints(run_dir: str | Path, head: str) -> dict[int, Path]:
    """examples seen -> checkpoint folder, for one head of a run."""
    folder = Path(run_dir) / head
    out = {}
    for p in folder.glob("checkpoint-*"):
        m = _CKPT.search(p.name)
        if m and p.is_dir():
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def _read_json(path: Path) -> dict:
    return read_json_object(path)


def run_heads(run_dir: str | Path) -> tuple[str, ...]:
    """The heads a run was configured to train (run.json), else those with saved checkpoints."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such training run folder")
    record = run_dir / RUN_FILE
    if record.exists():
        heads = _read_json(record).get("config", {}).get("heads")
        if not isinstance(heads, list) or not heads or any(h not in HEAD_NAMES for h in heads):
            raise ArtifactError(f"config.heads is {heads!r}, expected a list of {HEAD_NAMES}", path=str(record))
        return tuple(h for h in HEAD_NAMES if h in heads)
    heads = tuple(h for h in HEAD_NAMES if head_checkpoints(run_dir, h))
    if not heads:
        raise FileNotFoundError(f"{run_dir}: no trained heads (expected pos/checkpoint-* or neg/checkpoint-*)")
    return heads


def head_progress(run_dir: str | Path, head: str) -> tuple[bool, int | None]:
    """(finished, examples seen) from the head's resume state; (True, None) when there is none."""
    path = Path(run_dir) / head / STATE_FILE
    if not path.exists():
        return True, None  # heads saved without a trainer state (copied adapters): judged by checkpoints
    state = _read_json(path)
    finished, seen = state.get("finished"), state.get("examples_seen")
    if not isinstance(finished, bool) or not isinstance(seen, int):
        raise ArtifactError("missing 'finished' / 'examples_seen'", path=str(path))
    return finished, seen


def select_checkpoints(run_dir: str | Path, spec: str, heads: tuple[str, ...] | None = None) -> list[int]:
    """'final' -> the end of training (every head finished, at the same count); 'all' -> every
    checkpoint all heads have; '64,256' -> those, each present in every head."""
    heads = heads or run_heads(run_dir)
    per_head = {h: set(head_checkpoints(run_dir, h)) for h in heads}
    for h, cps in per_head.items():
        if not cps:
            raise RunStateError(f"{run_dir}: head {h!r} has no saved checkpoint yet (training stopped before its "
                                f"first save); {FINISH_HINT}")
    if spec == "final":
        return [_final(run_dir, heads, per_head)]
    common = sorted(set.intersection(*per_head.values()))
    if spec == "all":
        return common
    wanted = [int(x) for x in spec.split(",") if x.strip()]
    for h, cps in per_head.items():
        missing = [w for w in wanted if w not in cps]
        if missing:
            raise RunStateError(f"{run_dir}: head {h!r} has no checkpoint at {missing}; checkpoints every head has: "
                                f"{common}")
    return wanted


def _final(run_dir, heads, per_head) -> int:
    ends = {}
    for h in heads:
        finished, seen = head_progress(run_dir, h)
        if not finished:
            raise RunStateError(f"{run_dir}: head {h!r} stopped after {seen} examples, before the end of training; "
                                f"{FINISH_HINT}, or score a checkpoint every head has with --checkpoints")
        ends[h] = max(per_head[h])
    if len(set(ends.values())) > 1:
        raise RunStateError(f"{run_dir}: the heads ended at different points ({ends}); 'final' would pair "
                            "unequal heads. Retrain them on the same number of examples.")
    return next(iter(ends.values()))


def unpaired_checkpoints(run_dir: str | Path, heads: tuple[str, ...]) -> dict[str, list[int]]:
    """Checkpoints some head has and another lacks (what 'all' leaves out of a learning curve)."""
    per_head = {h: set(head_checkpoints(run_dir, h)) for h in heads}
    common = set.intersection(*per_head.values()) if per_head else set()
    return {h: sorted(c - common) for h, c in per_head.items() if c - common}


@dataclass
class LikraModel:
    loaded: object
    """The LoadedModel (model, tokenizer, prefix_token_ids, identity)."""
    model: object
    """PeftModel with adapters 'pos' and 'neg' (or the bare model when there are no heads)."""
    run_dir: Path | None = None
    """The training run the heads come from."""
    heads: tuple[str, ...] = ()
    """Heads of the run."""
    loaded_checkpoint: dict = field(default_factory=dict)
    """head -> examples seen of the weights now loaded."""

    @property
    def checkpoint(self) -> int | None:
        """Examples seen by every loaded head (None before any is loaded or with no heads)."""
        seen = set(self.loaded_checkpoint.values())
        return seen.pop() if len(seen) == 1 and len(self.loaded_checkpoint) == len(self.heads) else None

    def engine(self, batch_tokens: int | None = None, progress: bool = True, truncate: bool = False):
        """The scoring engine over this model and its heads: the one factory every front door uses."""
        from likra.scoring.engine import EngineConfig, ScoringEngine

        return ScoringEngine(self.model, self.loaded.tokenizer, self.loaded.prefix_token_ids,
                             EngineConfig(batch_tokens=batch_tokens, progress=progress, truncate=truncate))

    def use_checkpoint(self, seen: int) -> None:
        """Load every head's weights at exactly `seen` examples; a head without it is an error."""
        for head in self.heads:
            cps = head_checkpoints(self.run_dir, head)
            if seen not in cps:
                raise RunStateError(f"{self.run_dir}: head {head!r} has no checkpoint at {seen} examples "
                                    f"(it has {sorted(cps)})")
        for head in self.heads:
            if self.loaded_checkpoint.get(head) != seen:
                from likra.models.heads import load_head

                load_head(self.model, head, head_checkpoints(self.run_dir, head)[seen], self.loaded.identity)
                self.loaded_checkpoint[head] = seen


def load_likra(model_spec: str | None = None, run_dir: str | Path | None = None, device: str = "auto",
               dtype: str = "auto", cache_dir: str | None = None, checkpoint: str | int | None = "final",
               loaded=None) -> LikraModel:
    """Base model (from `model_spec`, else the run's own base model) with the run's heads attached and
    loaded at `checkpoint` ('final', or examples seen; None attaches them without loading weights).
    `loaded` (a LoadedModel) is used instead of loading the model again."""
    from likra.models.heads import heads_on
    from likra.models.loading import load_model

    if model_spec is None and run_dir is None:
        raise RunStateError("give a model, a training run, or both")
    heads = run_heads(run_dir) if run_dir is not None else ()
    seen = None
    if run_dir is not None and checkpoint is not None:
        seen = select_checkpoints(run_dir, str(checkpoint), heads)[0]
    if loaded is None:
        loaded = load_model(model_spec or _run_base_spec(run_dir, heads), device, dtype, cache_dir)
    if run_dir is None:
        return LikraModel(loaded, loaded.peft_model or loaded.model)
    model = heads_on(loaded, _run_lora_settings(run_dir, heads[0]))
    likra = LikraModel(loaded, model, Path(run_dir), heads)
    if seen is not None:
        likra.use_checkpoint(seen)
    return likra


def _run_base_spec(run_dir, heads) -> str:
    from likra.models.heads import read_meta

    for head in heads:
        for folder in head_checkpoints(run_dir, head).values():
            spec = read_meta(folder).get("base_model", {}).get("spec")
            if spec:
                return spec
    raise RunStateError(f"{run_dir}: cannot tell which base model the heads were trained on; pass --model")


def _run_lora_settings(run_dir, head):
    from likra.config import LoraSettings

    folder = next(iter(head_checkpoints(run_dir, head).values()), None)
    if folder is None:
        raise RunStateError(f"{run_dir}: head {head!r} has no saved checkpoint yet; {FINISH_HINT}")
    path = folder / "adapter_config.json"
    cfg = _read_json(path)
    targets = cfg.get("target_modules")
    targets = tuple(sorted(targets)) if isinstance(targets, (list, set)) else None
    try:
        return LoraSettings(r=cfg["r"], alpha=cfg["lora_alpha"], dropout=cfg.get("lora_dropout", 0.0),
                            target_modules=targets)
    except (KeyError, ValueError) as e:
        raise ArtifactError(f"not a LoRA adapter config ({e})", path=str(path)) from e
