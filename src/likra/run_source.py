"""Where a run comes from: `resolve_run(spec)` turns what a user passes to `likra.load` into a local
run folder, downloading it from the Hugging Face hub when `spec` is a hub id.

- A local folder is returned as it is (checking its contents is the loader's job, as before), except
  a folder holding ONE head (adapter_config.json at its top, e.g. a plain PEFT adapter): see below.
- `owner/name` or `owner/name@revision` that is not a local path is a hub repo id: it is downloaded
  with `huggingface_hub.snapshot_download` (only what loading reads: run.json, the checkpoints, each
  head's train_state/state.json; never the resume weights or optimiser, nor a base model's weights
  when the id names a model instead of a run), and must hold a likra run or a single head.
  An id whose owner part is a local folder (`runs/arc512` with `runs/` present) is taken as a
  mistyped local path, not sent to the hub.
- A single head becomes a one-head run: `<cache>/single-head-runs/<key>/<head>/checkpoint-<N>`
  links to it, where head is its likra-head.json's ('pos' for a plain PEFT adapter, so it scores as
  SFT) and N its examples seen (0 when unknown). A head folder inside a likra run is refused with the
  run's path instead: loading one head of a pair alone is rarely what was meant.

Errors are likra's: a missing path is a RunNotFoundError (a FileNotFoundError too), an unreachable
hub a HubUnavailableError saying how to get the folder another way.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from likra.config import HEAD_NAMES
from likra.errors import ArtifactError, LikraError

__all__ = ["HubId", "HubUnavailableError", "RunNotFoundError", "parse_hub_id", "resolve_run"]

RUN_FILE = "run.json"  # likra_model.RUN_FILE; not imported from there to keep this module torch-free
ADAPTER_CONFIG = "adapter_config.json"
# loading reads these; the resume state's weights and optimiser (most of a run's bytes) it never reads
HUB_PATTERNS = ["run.json", "*checkpoint-*/*", "*train_state/state.json",
                "adapter_config.json", "adapter_model.safetensors", "likra-head.json", "README.md"]
SINGLE_HEAD_DIR = "single-head-runs"

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$")
_CHECKPOINT = re.compile(r"^checkpoint-\d+$")


class RunNotFoundError(LikraError, FileNotFoundError):
    """A run that is neither a local folder nor a hub repo; caught as FileNotFoundError as well."""


class HubUnavailableError(LikraError):
    """A hub id that could not be downloaded (offline, no such repo or revision, access refused)."""


@dataclass(frozen=True)
class HubId:
    """A Hugging Face hub repo id as `likra.load` takes it: 'owner/name' or 'owner/name@revision'."""

    repo_id: str
    """'owner/name'."""
    revision: str | None = None
    """Branch, tag or commit after '@'; None: the default branch."""


def parse_hub_id(spec: str) -> HubId | None:
    """The hub id `spec` names, or None when it cannot be one (a path with './', '/', '~' or '..')."""
    m = _HUB_ID.match(spec)
    if m is None or ".." in spec or "--" in m["repo"]:
        return None
    return HubId(m["repo"], m["revision"])


def resolve_run(spec: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local folder for the run `spec` names: the folder itself, or a hub repo downloaded.

    cache_dir: where hub downloads go (huggingface_hub's cache layout; default its own cache) and where
    a single head's one-head run is made (default likra's cache, $LIKRA_CACHE or ~/.cache/likra).
    """
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.exists():
        return _local(path, cache_dir)
    hub = parse_hub_id(text)
    owner = Path(text.split("/", 1)[0]).expanduser()
    if hub is None or owner.is_dir():
        raise RunNotFoundError(f"{path}: no such training run folder")
    folder = _download(hub, cache_dir)
    if _is_run(folder):
        return folder
    if _is_head(folder):
        return _single_head_run(folder, cache_dir)
    raise HubUnavailableError(f"hub repo {hub.repo_id} holds neither a likra run (run.json, pos/ and neg/ with "
                              f"checkpoint-* folders) nor a PEFT adapter ({ADAPTER_CONFIG}); if it is a base model, "
                              "pass it as the model instead (--model)")


def _local(path: Path, cache_dir) -> Path:
    if not path.is_dir():
        raise RunNotFoundError(f"{path}: a file; a training run is a folder (run.json, pos/, neg/)")
    if _is_head(path) and not _is_run(path):
        return _single_head_run(path, cache_dir)
    return path


def _is_run(folder: Path) -> bool:
    return (folder / RUN_FILE).is_file() or any(
        any(p.is_dir() for p in (folder / h).glob("checkpoint-*")) for h in HEAD_NAMES)


def _is_head(folder: Path) -> bool:
    return (folder / ADAPTER_CONFIG).is_file()


def _download(hub: HubId, cache_dir) -> Path:
    """snapshot_download of what loading reads; every failure becomes a HubUnavailableError that says
    what to do."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # a dependency of transformers, so this is a broken install
        raise HubUnavailableError(f"{hub.repo_id}: downloading from the Hugging Face hub needs huggingface_hub "
                                  f"(pip install huggingface_hub); {_OTHER_WAY.format(repo=hub.repo_id)}") from e
    try:
        folder = snapshot_download(hub.repo_id, revision=hub.revision, cache_dir=_str(cache_dir),
                                   allow_patterns=HUB_PATTERNS)
    except Exception as e:  # the hub's errors (HTTP, offline, validation) have no common base but Exception
        raise _hub_error(hub, e) from e
    return Path(folder)


_OTHER_WAY = ("or download it on a machine that is online (`hf download {repo} --local-dir DIR`), copy DIR here "
              "and pass its path")


def _hub_error(hub: HubId, e: Exception) -> HubUnavailableError:
    """The hub's exception as likra's, chosen by class name: huggingface_hub's error classes move
    between versions, and importing them here would tie likra to one."""
    names = {c.__name__ for c in type(e).__mro__}
    where = f"{hub.repo_id}" + (f"@{hub.revision}" if hub.revision else "")
    if "GatedRepoError" in names:
        why = "is gated: accept its terms on huggingface.co and log in (`hf auth login`)"
    elif "RepositoryNotFoundError" in names:
        why = "is no local folder, and no hub repo of that id (or a private one: log in with `hf auth login`)"
    elif "RevisionNotFoundError" in names:
        why = f"has no revision {hub.revision!r}"
    elif "HFValidationError" in names:
        why = "is no local folder, nor a valid hub repo id"
    else:  # offline (HF_HUB_OFFLINE, no network) and not in the local cache, or the hub failing
        why = (f"is no local folder, and could not be downloaded from the Hugging Face hub ({type(e).__name__}: "
               f"{_first_line(e)}); connect to the internet (and unset HF_HUB_OFFLINE), "
               f"{_OTHER_WAY.format(repo=hub.repo_id)}")
        return HubUnavailableError(f"{where} {why}")
    return HubUnavailableError(f"{where} {why}; {_OTHER_WAY.format(repo=hub.repo_id)}")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no message"


def _str(path) -> str | None:
    return None if path is None else os.fspath(path)


def _single_head_run(head_dir: Path, cache_dir) -> Path:
    """A one-head run folder whose only checkpoint links to `head_dir` (made once, then reused)."""
    from likra.models.heads import read_meta  # torch: only when a single head is loaded, with a model next

    _refuse_head_of_a_run(head_dir)
    meta = read_meta(head_dir)
    head, seen = meta.get("head") or HEAD_NAMES[0], meta.get("examples_seen") or 0
    target = head_dir.resolve()
    key = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    root = _likra_cache(cache_dir) / SINGLE_HEAD_DIR / f"{_safe(head_dir.name)}-{key}"
    link = root / head / f"checkpoint-{seen:06d}"
    if link.is_dir() and (link / ADAPTER_CONFIG).is_file():
        return root
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / head).mkdir(parents=True)
    _link_or_copy(target, tmp / head / link.name)
    shutil.rmtree(root, ignore_errors=True)  # a stale or half-made one
    try:
        tmp.rename(root)
    except OSError:  # another process made it first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _refuse_head_of_a_run(head_dir: Path) -> None:
    run = head_dir.parent.parent
    if head_dir.parent.name in HEAD_NAMES and _CHECKPOINT.match(head_dir.name) and _is_run(run):
        raise ArtifactError(f"this is one checkpoint of the {head_dir.parent.name!r} head of the run {run}; pass the "
                            f"run folder to load its heads together (checkpoint {int(head_dir.name.split('-')[1])})",
                            path=str(head_dir))


def _link_or_copy(target: Path, link: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError:  # no symlinks (Windows without developer mode): a copy of a few MB
        shutil.copytree(target, link)


def _likra_cache(cache_dir) -> Path:
    from likra.paths import cache_dir as default_cache

    return default_cache(cache_dir)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "head"
