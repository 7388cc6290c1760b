"""CPU threads of the networks: one policy for the node, the CLI and the benchmarks.

:func:`apply_thread_policy` sets torch's process-wide threads for an
:class:`~finetrack_ros.inference.options.InferenceOptions`: its ``threads`` with torch (0:
torch's default), one with ONNX Runtime (there torch only crops and normalises, and its
OpenMP pool would spin against the ONNX Runtime sessions; measured with ``finetrack bench
realtime``). ONNX Runtime sessions take ``threads`` themselves (``runners.OnnxRunner``).

:func:`follow_free_cores` is the rest of ``threads: 0`` with torch on the CPU: torch's
OpenMP threads meet at a barrier after every operator. When another process keeps a core
busy, the thread on that core is descheduled and the others wait for it: on 2 cores with
one competing busy process, YOLOX-s + Re-ID in torch fell from 11 to 3.3 fps with 2 threads
but held 10.6 fps with 1 (``finetrack bench realtime``). So :class:`CpuShare` measures, about
once a second, how many cores *other* processes used (``/proc/stat`` busy time minus this
process's CPU time) and gives torch the cores left: ``round(cores - others)``, at least one.
Linux only; elsewhere the thread count stays at torch's default.

torch is imported only when a thread count is set.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Callable, Optional

SAMPLE_PERIOD_S = 1.0  # seconds between two readings of /proc/stat
SMOOTHING = 0.5  # weight of the newest reading of the other processes' load
PROC_STAT = "/proc/stat"


def busy_cpu_seconds(path: str = PROC_STAT) -> Optional[float]:
    """Return the CPU-seconds all cores spent busy since boot (None off Linux).

    Busy is everything but idle and I/O wait.
    """
    try:
        with open(path) as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 6:
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    # guest time is already counted in user time
    busy = sum(ticks[:8]) - idle
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """Return the CPU-seconds this process used (every thread, user and system)."""
    times = os.times()
    return times.user + times.system


def usable_cores() -> int:
    """Return the number of cores this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class CpuShare:
    """Set torch's intra-op threads to the cores other processes leave free.

    Call :meth:`update` once per frame; it reads ``/proc/stat`` at most every
    ``period_s`` seconds and changes the thread count only when the rounded share moves.

    Args:
        max_threads: most threads (default: the usable cores).
        set_threads: applies a thread count (default :func:`set_torch_threads`).
        busy, own, clock: the readings (injected by tests).

    ``report``, when set, gets one line per change (the node logs it).
    """

    def __init__(self, max_threads: int = 0, period_s: float = SAMPLE_PERIOD_S,
                 set_threads: Optional[Callable[[int], None]] = None,
                 busy: Callable[[], Optional[float]] = busy_cpu_seconds,
                 own: Callable[[], float] = own_cpu_seconds,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cores = usable_cores()
        self.max_threads = max_threads or self.cores
        self.period_s = period_s
        self.set_threads = set_threads or set_torch_threads
        self.busy, self.own, self.clock = busy, own, clock
        self.others = 0.0  # smoothed cores used by other processes
        self.threads = self.max_threads
        self.changes = 0
        self.report: Optional[Callable[[str], None]] = None
        self._last = self._reading()

    @property
    def available(self) -> bool:
        """Whether the machine reports its CPU time (Linux ``/proc/stat``)."""
        return self._last is not None

    def _reading(self) -> Optional[tuple[float, float, float]]:
        busy = self.busy()
        return None if busy is None else (self.clock(), busy, self.own())

    def update(self) -> int:
        """Re-read the CPU at most once per period; return the thread count in use."""
        if self._last is None or self.clock() - self._last[0] < self.period_s:
            return self.threads
        now = self._reading()
        if now is None:
            return self.threads
        wall = now[0] - self._last[0]
        others = ((now[1] - self._last[1]) - (now[2] - self._last[2])) / wall
        self._last = now
        self.others += SMOOTHING * (max(others, 0.0) - self.others)
        threads = int(min(self.max_threads, max(1, round(self.cores - self.others))))
        if threads != self.threads:
            if self.report is not None:
                self.report(f"torch threads {self.threads} -> {threads}: other processes use "
                            f"{self.others:.1f} of {self.cores} cores")
            self.threads = threads
            self.changes += 1
            self.set_threads(threads)
        return self.threads


@functools.cache
def default_torch_threads() -> int:
    """Return torch's thread count before this package first changed it (``threads`` 0)."""
    import torch

    return torch.get_num_threads()


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for the process (0: torch's default)."""
    import torch

    default = default_torch_threads()  # read before the first change
    torch.set_num_threads(int(threads) if threads > 0 else default)


def apply_thread_policy(options) -> None:
    """Set torch's threads for ``options``: its ``threads``, or one with ONNX Runtime."""
    set_torch_threads(1 if options.backend == "onnxruntime" else options.threads)


def follow_free_cores(options) -> Optional[CpuShare]:
    """Return the CpuShare that ``threads: 0`` with torch on the CPU runs, else None."""
    if options.threads != 0 or options.backend != "torch" or options.device != "cpu":
        return None
    share = CpuShare(max_threads=default_torch_threads())
    return share if share.available else None
