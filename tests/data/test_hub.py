"""The Hugging Face hub fallback (likra/data/hub.py): hub rows (HF schema) become the same Questions as
the local files do, load_questions falls through to the hub when the local files are absent, and a
benchmark found in neither place is one DataError naming both and the fixes.

No network: the "hub" is small JSON files in the HF schema read by the real
`datasets.load_dataset("json", ...)`, or datasets in offline mode."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from likra.data import hub
from likra.data.benchmarks import get_benchmark, list_benchmarks, load_questions
from likra.data.formats import RowInfo
from likra.data.questions import DataError
from likra.data.readers import read_jsonl, read_labels
from likra.paths import data_root

# --- Local raw row -> the same item as the hub dataset holds it (the inverse of each converter). ---


def _ai2_to_hf(row: dict, label: str | None) -> dict:
    choices = row["question"]["choices"]
    texts, labels = [c["text"] for c in choices], [c["label"] for c in choices]
    return {"id": row["id"], "question": row["question"]["stem"], "choices": {"text": texts, "label": labels},
            "answerKey": row["answerKey"]}


def _openbookqa_to_hf(row: dict, label: str | None) -> dict:
    out = _ai2_to_hf(row, label)
    out["question_stem"] = out.pop("question")
    return out


def _hellaswag_to_hf(row: dict, label: str | None) -> dict:
    return {**row, "label": str(row["label"])}  # the hub's label is a string


def _winogrande_to_hf(row: dict, label: str | None) -> dict:
    return {"sentence": row["sentence"], "option1": row["option1"], "option2": row["option2"],
            "answer": row.get("answer") or label}  # no qID on the hub; validation labels are a .lst locally


def _piqa_to_hf(row: dict, label: str | None) -> dict:
    return {**row, "label": int(label)}  # labels are a .lst file locally, an int column on the hub


def _truthfulqa_to_hf(row: dict, label: str | None) -> dict:
    targets = row["mc1_targets"]
    return {"question": row["question"], "mc1_targets": {"choices": list(targets), "labels": list(targets.values())}}


def _same(row: dict, label: str | None) -> dict:
    return dict(row)


TO_HF = {
    "arc_challenge": _ai2_to_hf, "arc_easy": _ai2_to_hf, "arc": _ai2_to_hf, "commonsense_qa": _ai2_to_hf,
    "openbookqa": _openbookqa_to_hf, "hellaswag": _hellaswag_to_hf, "winogrande": _winogrande_to_hf,
    "piqa": _piqa_to_hf, "truthfulqa_mc1": _truthfulqa_to_hf, "mmlu": _same,
}


def _local_rows(name: str, rel: str) -> list[tuple[int, dict, str | None]]:
    """(line, raw row, label from the .lst file or None) of one real local file."""
    bench = get_benchmark(name)
    rows = read_jsonl(data_root() / rel)[0]
    labels = read_labels(data_root() / bench.label_files[rel]) if rel in bench.label_files else None
    return [(line, row, labels[line - 1] if labels else None) for line, row in rows]


@pytest.mark.parametrize("name, split", [
    ("arc_challenge", "test"), ("arc_easy", "validation"), ("hellaswag", "validation"), ("winogrande", "validation"),
    ("mmlu", "dev"), ("openbookqa", "validation"), ("commonsense_qa", "validation"), ("piqa", "validation"),
    ("truthfulqa_mc1", "validation"),
])
def test_hub_rows_become_the_questions_the_local_files_give(real, name, split):
    bench = get_benchmark(name)
    (rel,) = bench.splits[split]
    want = real(name, split).questions
    rows = _local_rows(name, rel)
    assert len(rows) == len(want)
    for (line, row, label), local in zip(rows, want):
        got = hub.parse_row(bench.hub.convert, bench.parse, TO_HF[name](row, label), RowInfo(name, split, line))
        if name == "winogrande":  # hub rows have no qID: they take the line id
            local = dataclasses.replace(local, id=f"{split}:{line}")
        assert got == local


# --- load_questions through the real datasets.load_dataset, on local HF-schema files. ---


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """serve(path, config, split, rows): the hub part (path, config, split) holds `rows`. Returns
    (serve, calls); `calls` lists the parts read. Parts not served fail like a missing dataset."""
    datasets = pytest.importorskip("datasets")
    files: dict[tuple, Path] = {}
    calls: list[tuple] = []

    def load(path: str, name: str | None, split: str):
        calls.append((path, name, split))
        if (path, name, split) not in files:
            raise FileNotFoundError(f"Dataset '{path}' doesn't exist on the Hub")
        return datasets.load_dataset("json", data_files=str(files[path, name, split]), split="train",
                                     cache_dir=str(tmp_path / "hf-cache"))

    def serve(path: str, name: str | None, split: str, rows: list[dict]) -> None:
        f = tmp_path / "hub" / f"part{len(files)}.jsonl"
        f.parent.mkdir(exist_ok=True)
        f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        files[path, name, split] = f

    monkeypatch.setattr(hub, "load_dataset_rows", load)
    return serve, calls


@pytest.mark.parametrize("name, split", [("arc_easy", "test"), ("hellaswag", "validation")])
def test_absent_local_files_are_read_from_the_hub(real, fake_hub, tmp_path, name, split):
    serve, calls = fake_hub
    bench = get_benchmark(name)
    (part,) = bench.hub.parts(split)
    rows = _local_rows(name, bench.splits[split][0])[:6]
    serve(bench.hub.path, part.config, split, [TO_HF[name](row, label) for _, row, label in rows])
    got = load_questions(name, split, data_root=tmp_path / "empty")
    assert got.questions == real(name, split).questions[:6]
    assert calls == [(bench.hub.path, part.config, split)]
    assert got.source == (bench.hub.label(part),)


WG_HF = {"sentence": "A beat B because _ was fast.", "option1": "A", "option2": "B", "answer": "1"}


def test_hub_parts_follow_the_local_files(fake_hub, tmp_path):
    serve, calls = fake_hub
    arc = {"question": "q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "B"}
    serve("allenai/ai2_arc", "ARC-Challenge", "test", [{**arc, "id": "c1"}])
    serve("allenai/ai2_arc", "ARC-Easy", "test", [{**arc, "id": "e1"}])
    assert [q.id for q in load_questions("arc", "test", data_root=tmp_path)] == ["c1", "e1"]
    serve("allenai/winogrande", "winogrande_xs", "train", [WG_HF])
    (q,) = load_questions("winogrande", "train_xs", data_root=tmp_path).questions
    assert (q.id, q.gold, q.choice_contexts) == ("train_xs:1", 0, ("A beat B because A", "A beat B because B"))
    assert calls[-1] == ("allenai/winogrande", "winogrande_xs", "train")


def test_local_files_win_and_bad_hub_rows_are_located(fake_hub, tmp_path, write):
    serve, calls = fake_hub
    write(tmp_path / "winogrande" / "train_xs.jsonl", json.dumps({**WG_HF, "qID": "local-1"}) + "\n")
    assert [q.id for q in load_questions("winogrande", "train_xs", data_root=tmp_path)] == ["local-1"]
    assert calls == []
    serve("allenai/winogrande", "winogrande_s", "train", [WG_HF, {**WG_HF, "answer": "3"}])
    with pytest.raises(DataError, match="gold index out of range") as e:
        load_questions("winogrande", "train_s", data_root=tmp_path)
    assert (e.value.path, e.value.line, e.value.field) == ("hf:allenai/winogrande/winogrande_s/train", 2, "answer")


def _offline(monkeypatch, tmp_path) -> None:
    """Hub and datasets offline, with empty caches. datasets and huggingface_hub read these variables
    when first imported, so their module constants are set too."""
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants as hf

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf-hub"))


def test_neither_local_nor_hub_names_both_places_and_the_fixes(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    root = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        load_questions("arc_easy", "test", data_root=root)
    msg = str(e.value)
    assert e.value.path == str(root / "arc" / "ARC-Easy-test.jsonl") and msg.startswith(e.value.path)
    assert f"file not found for arc_easy test (data root {root})" in msg
    assert "allenai/ai2_arc (config ARC-Easy, split test)" in msg and "OfflineModeIsEnabled" in msg
    assert "--data-root DIR" in msg and "export LIKRA_DATA=DIR" in msg
    assert "unset HF_HUB_OFFLINE and HF_DATASETS_OFFLINE" in msg and "\n" not in msg


def test_without_the_datasets_library_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    with pytest.raises(DataError, match=r"pip install 'datasets>=2\.19'.*--data-root DIR"):
        load_questions("piqa", "validation", data_root=tmp_path)


# --- The hub ids are lm-evaluation-harness 0.4.13's, read from its installed task YAMLs. ---

LM_EVAL_YAML = {
    "arc_easy": "arc/arc_easy.yaml", "arc_challenge": "arc/arc_challenge.yaml", "hellaswag": "hellaswag/hellaswag.yaml",
    "winogrande": "winogrande/default.yaml", "mmlu": "mmlu/default/_default_template_yaml",
    "openbookqa": "openbookqa/openbookqa.yaml", "commonsense_qa": "commonsense_qa/default.yaml",
    "piqa": "piqa/piqa.yaml", "truthfulqa_mc1": "truthfulqa/truthfulqa_mc1.yaml",
}


def _yaml_keys(path: Path) -> dict[str, str]:
    """Top-level `key: value` lines of a task YAML, its `include` first (a few lines of regex: the
    YAMLs use `!function` tags that a plain YAML loader refuses)."""
    keys = dict(re.findall(r"^(\w+): *(.*?) *$", path.read_text(encoding="utf-8"), re.M))
    if "include" in keys:
        keys = {**_yaml_keys(path.parent / keys["include"]), **keys}
    return keys


@pytest.mark.parametrize("name", list(LM_EVAL_YAML))
def test_hub_sources_are_lm_evals(name):
    spec = importlib.util.find_spec("lm_eval")  # not imported: only its YAMLs are read
    if spec is None or spec.origin is None:
        pytest.skip("lm_eval is not installed (pip install 'likra[bench]')")
    task = _yaml_keys(Path(spec.origin).parent / "tasks" / LM_EVAL_YAML[name])
    bench = get_benchmark(name)
    (part,) = bench.hub.parts(bench.eval_split)
    assert bench.hub.path == task["dataset_path"]
    if name != "mmlu":  # lm-eval reads one config per subject; likra reads 'all', the same rows
        assert (part.config or "null") == task.get("dataset_name", "null")
    test_split = task.get("test_split", "null")
    assert part.split == (test_split if test_split != "null" else task["validation_split"])


def test_every_benchmark_has_a_hub_source_for_every_split():
    for name in list_benchmarks():
        bench = get_benchmark(name)
        assert bench.hub is not None, name
        assert all(bench.hub.parts(s) for s in bench.splits), name


def test_installed_package_has_no_checkout_and_falls_back_to_the_working_directory(tmp_path, monkeypatch):
    from likra import paths

    monkeypatch.setattr(paths, "__file__", str(tmp_path / "venv" / "site-packages" / "likra" / "paths.py"))
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.repo_root() is None
    assert paths.data_root() == tmp_path.parent / "shared" / "data"
