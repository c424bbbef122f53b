"""Data-parallel processes: which one am I, which share of the work is mine, and gathering the rest.

likra runs one process per device under `accelerate launch` (or torchrun; `--num-processes N` on
`likra eval` / `likra train` launches it). Everything distributed goes through this module, so the
rest of the code asks three questions only: `is_main()` (only the main process writes files and
logs, nanoGPT's `master_process`), `shard(n)` (my contiguous share of n items) and `gather(obj)`
(every process's object, in rank order). A single process never imports accelerate or initialises
torch.distributed: world size 1 is the plain path.

The process group is set up by accelerate's `PartialState` from the launcher's environment
(RANK, WORLD_SIZE, MASTER_ADDR, ...): NCCL on CUDA devices, gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes."""

    rank: int
    """0 .. size-1; the main process is rank 0."""
    size: int
    """Number of processes (1: not distributed)."""
    device: str | None = None
    """The device accelerate assigned this process (cuda:LOCAL_RANK on GPUs); None when not distributed."""


def _env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


@lru_cache(maxsize=1)
def world() -> World:
    """The data-parallel world, set up once (accelerate's PartialState) when launched with several processes."""
    if _env_world_size() <= 1:
        return World(0, 1)
    import torch
    from accelerate import PartialState

    # cpu=True makes accelerate pick gloo on a machine without CUDA (its default there is a single process)
    state = PartialState(cpu=not torch.cuda.is_available())
    return World(state.process_index, state.num_processes, str(state.device))


def is_main() -> bool:
    """True in the process that writes files and logs (rank 0), and in every single-process run."""
    return world().rank == 0


def shard(n: int) -> tuple[int, int]:
    """[lo, hi): this process's contiguous share of n items, sizes differing by at most one. In rank
    order the shares tile 0..n, so gathering them in rank order restores the original order."""
    w = world()
    base, extra = divmod(n, w.size)
    lo = w.rank * base + min(w.rank, extra)
    return lo, lo + base + (1 if w.rank < extra else 0)


def gather(obj) -> list:
    """Every process's `obj`, in rank order (picklable objects; all processes must call it)."""
    w = world()
    if w.size == 1:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * w.size
    dist.all_gather_object(out, obj)
    return out


def sum_gradients(params) -> None:
    """Sum each parameter's gradient over the processes (a missing gradient counts as zero), so
    every process holds the full batch's gradient and takes the same optimiser step."""
    if world().size == 1:
        return
    import torch
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)


def barrier() -> None:
    """Wait for every process (e.g. until the main one has written what the others read next)."""
    if world().size > 1:
        import torch.distributed as dist

        dist.barrier()
