"""`likra eval|train --num-processes N`: run the same command as N data-parallel processes.

It relaunches the command line under `accelerate launch` (which starts the processes and sets up
their process group: NCCL on GPUs, gloo on CPUs) with `--num-processes` taken out, and waits.
Running `accelerate launch -m likra eval ...` yourself does the same, with every accelerate option
(several machines, an `accelerate config` file).
"""

from __future__ import annotations

import os
import subprocess
import sys

FLAG = "--num-processes"


def add_argument(parser) -> None:
    parser.add_argument(FLAG, type=int, default=1, metavar="N",
                        help="data-parallel processes (default 1): N > 1 relaunches this command under "
                             "`accelerate launch`, one process per GPU (or N CPU processes with gloo); "
                             "the questions (eval) or each batch (train) are split between them and the "
                             "results are the same as one process's")


def launched() -> bool:
    """True inside a process started by a launcher (accelerate, torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def without_flag(argv: list[str]) -> list[str]:
    """argv with --num-processes N / --num-processes=N removed."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == FLAG:
            skip = True
        elif not arg.startswith(FLAG + "="):
            out.append(arg)
    return out


def command(argv: list[str], n: int) -> list[str]:
    """The accelerate command line that runs `likra ARGV` as n processes on this machine."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "likra", *without_flag(argv)]


def relaunch(argv: list[str], n: int) -> int:
    """Run `likra ARGV` as n processes and return the exit code (the first failing process's)."""
    cmd = command(argv, n)
    print(f"likra: launching {n} processes: accelerate launch --num_processes {n} -m likra "
          f"{' '.join(without_flag(argv))}", file=sys.stderr, flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))}
    return subprocess.run(cmd, env=env).returncode
