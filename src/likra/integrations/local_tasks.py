"""lm-evaluation-harness task files that read likra's local benchmark data instead of the hub.

The templates in tasks/ are lm-eval 0.4.13's own arc_challenge / hellaswag / winogrande with only the
dataset swapped for the local JSONL files (each template's header says what changed). They are
templates (`*.yaml.in`) because a YAML must name its data files by absolute path: `write_local_tasks`
fills in the data root and writes real YAMLs, plus the utils.py their `!function`s load, into a
folder lm-eval includes:

    python -m likra.integrations.local_tasks /tmp/likra_tasks
    likra lm-eval --model likra --model_args run=RUN --include_path /tmp/likra_tasks --tasks local_arc_challenge

Stdlib only (lm-eval is imported by `task_manager` alone), so writing the files needs neither torch
nor lm-eval.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "tasks"
"""The shipped task templates (package data: see pyproject's [tool.setuptools.package-data])."""
PLACEHOLDER = "@DATA_ROOT@"
TASKS = {"arc_challenge": "local_arc_challenge", "hellaswag": "local_hellaswag", "winogrande": "local_winogrande"}
"""likra benchmark name -> the local lm-eval task that mirrors lm-eval's task of the same name."""
NEEDED_FILES = {
    "local_arc_challenge": ("arc/ARC-Challenge-train.jsonl", "arc/ARC-Challenge-validation.jsonl",
                            "arc/ARC-Challenge-test.jsonl"),
    "local_hellaswag": ("hellaswag/validation.jsonl",),
    "local_winogrande": ("winogrande/train_l.jsonl", "winogrande/validation.jsonl"),
}
"""Files under the data root each task reads (checked by `missing_files`)."""


def write_local_tasks(out_dir: str | Path, data_root: str | Path | None = None) -> Path:
    """Write the task YAMLs with `data_root` filled in (default: likra's data root, $LIKRA_DATA or
    ../shared/data) and their utils.py into `out_dir`; return `out_dir`, ready for `--include_path`."""
    from likra import paths

    out, root = Path(out_dir), paths.data_root(data_root).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # the path sits inside a double-quoted YAML string: escape it the JSON way (YAML accepts that)
    quoted = json.dumps(str(root))[1:-1]
    for template in sorted(TEMPLATES.glob("*.yaml.in")):
        (out / template.name.removesuffix(".in")).write_text(template.read_text().replace(PLACEHOLDER, quoted))
    shutil.copyfile(TEMPLATES / "utils.py", out / "utils.py")
    return out


def missing_files(data_root: str | Path | None = None, tasks: tuple[str, ...] = tuple(NEEDED_FILES)) -> list[Path]:
    """Data files the given local tasks read that are not under the data root (empty: all there)."""
    from likra import paths

    root = paths.data_root(data_root)
    return [root / f for t in tasks for f in NEEDED_FILES[t] if not (root / f).is_file()]


def task_manager(tasks_dir: str | Path):
    """A TaskManager that knows only the tasks in `tasks_dir`: indexing lm-eval's ~15k built-in
    YAMLs takes about 15 s, which the local tasks do not need."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir), include_defaults=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m likra.integrations.local_tasks",
                                     description="Write lm-eval task YAMLs that read likra's local benchmark data.")
    parser.add_argument("out_dir", help="folder to write the YAMLs and utils.py into (for --include_path)")
    parser.add_argument("--data", default=None, help="data root (default: $LIKRA_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    out = write_local_tasks(args.out_dir, args.data)
    print(f"wrote {', '.join(sorted(TASKS.values()))} to {out}; use: --include_path {out} --tasks ...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
