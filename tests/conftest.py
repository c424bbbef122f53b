"""Shared fixtures: a tiny byte-level BPE tokenizer and tiny random causal LMs (likra.testing).

Nothing is downloaded: the tokenizer is trained on a few sentences in memory and the models are
random-initialised, so the whole suite runs in minutes on 2 CPU cores.
"""

from __future__ import annotations

import os

import pytest

from likra.testing import build_model, build_tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


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
