"""Timing on a shared machine: wall time, this process's CPU time, and how much CPU other processes
took meanwhile (from /proc/stat), so a measurement disturbed by someone else's job can be told apart."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager


def _machine_busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux), or None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Adds up timed sections: wall seconds, own CPU seconds (all threads), others' CPU seconds."""

    def __init__(self):
        self.seconds = self.cpu_seconds = 0.0
        self._busy: float | None = 0.0

    @contextmanager
    def section(self):
        wall, cpu, busy = time.perf_counter(), time.process_time(), _machine_busy_seconds()
        try:
            yield self
        finally:
            self.seconds += time.perf_counter() - wall
            own = time.process_time() - cpu
            self.cpu_seconds += own
            after = _machine_busy_seconds()
            if busy is None or after is None or self._busy is None:
                self._busy = None
            else:
                self._busy += max(0.0, after - busy - own)

    @property
    def others_cpu_share(self) -> float | None:
        """Other processes' CPU use while timed, as a share of all CPUs (0 = we were alone)."""
        if self._busy is None or self.seconds <= 0:
            return None
        return self._busy / (self.seconds * (os.cpu_count() or 1))
