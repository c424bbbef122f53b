"""Machine description, versions, and the markdown tables of the scoring benchmark."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

_PACKAGES = ("likra", "torch", "transformers", "peft", "lm_eval", "datasets", "tokenizers", "numpy")


def machine_info(torch) -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "memory_gib": mem,
            "cuda": torch.cuda.is_available()}


def versions() -> dict:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(repo: Path) -> dict:
    """The commit measured, and which files of likra's package were modified on top of it."""
    import subprocess

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--", "src/likra")
    return {"commit": git("rev-parse", "HEAD") or None, "src_likra_modified": dirty.splitlines()}


def write_json(path: str | Path, result: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _f(x, digits=3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def throughput_table(result: dict) -> str:
    lines = ["| setting | N | lm-eval 3 runs: loglik s | lm-eval 3 runs: total s | likra 1 call: score s (mean) "
             "| lm-eval q/s | likra q/s | speed-up (scoring) | speed-up (CPU time) | speed-up (end to end) "
             "| others' CPU (max) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["settings"].items():
        t = s["throughput"]
        lines.append(f"| {name} | {s['n']} | {_f(s['lm_eval']['loglik_seconds'], 1)} "
                     f"| {_f(s['lm_eval']['seconds'], 1)} "
                     f"| {_f(s['likra']['score_seconds'], 1)} | {_f(t['lm_eval_questions_per_s'], 2)} "
                     f"| {_f(t['likra_questions_per_s'], 2)} | **{t['ratio']:.2f}x** | {t['ratio_cpu']:.2f}x "
                     f"| {t['ratio_end_to_end']:.2f}x | {_pct(t.get('max_others_cpu_share'))} |")
    return "\n".join(lines)


def parity_table(result: dict) -> str:
    lines = ["| setting | head | acc lm-eval | acc likra | acc_norm lm-eval | acc_norm likra | docs chosen differ "
             "(acc / acc_norm) | max abs loglik diff | texts identical |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, s in result["settings"].items():
        texts = s["parity"]["texts"]
        same = "yes" if texts["identical"] else f"no ({texts['docs_differ']}/{s['n']} docs)"
        for head, h in s["parity"]["heads"].items():
            differ = str(h["chosen_differ_acc"])
            if "chosen_differ_acc_norm" in h:
                differ += f" / {h['chosen_differ_acc_norm']}"
            lines.append(f"| {name} | {head} | {_f(h['lm_eval']['acc'])} | {_f(h['likra']['acc'])} "
                         f"| {_f(h['lm_eval'].get('acc_norm'))} | {_f(h['likra'].get('acc_norm'))} | {differ} "
                         f"| {h['max_abs_loglik_diff']:.2e} | {same} |")
    return "\n".join(lines)


def same_text_table(result: dict) -> str:
    """For settings whose prompts differ: likra scoring lm-eval's exact request texts."""
    rows = []
    for name, s in result["settings"].items():
        for head, h in s["parity"]["heads"].items():
            if "on_lm_eval_texts" not in h:
                continue
            o, a = h["on_lm_eval_texts"], h["likra_on_lm_eval_texts"]
            differ = str(o["chosen_differ_acc"]) + (f" / {o['chosen_differ_acc_norm']}"
                                                    if "chosen_differ_acc_norm" in o else "")
            rows.append(f"| {name} | {head} | {_f(h['lm_eval']['acc'])} | {_f(a['acc'])} "
                        f"| {_f(h['lm_eval'].get('acc_norm'))} "
                        f"| {_f(a.get('acc_norm'))} | {differ} | {o['max_abs_loglik_diff']:.2e} |")
    if not rows:
        return ""
    head = ["| setting | head | acc lm-eval | acc likra (lm-eval's texts) | acc_norm lm-eval | acc_norm likra "
            "(lm-eval's texts) | docs chosen differ | max abs loglik diff |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    return "\n".join(head + rows)


def markdown(result: dict) -> str:
    parts = ["### Throughput (three heads: lm-eval = 3 runs, likra = 1 call)", throughput_table(result),
             "", "### Parity", parity_table(result)]
    extra = same_text_table(result)
    if extra:
        parts += ["", "### Where the prompts differ: likra scoring lm-eval's exact texts", extra]
    for name, s in result["settings"].items():
        ex = s["parity"]["texts"]["example"]
        if ex:
            parts.append(f"\n{name}: first prompt difference at doc {ex['doc_id']} request {ex['request']} "
                         f"({ex['part']}, char {ex['char']}):\n  likra:   {ex['likra']!r}"
                         f"\n  lm-eval: {ex['lm_eval']!r}")
    return "\n".join(parts)
