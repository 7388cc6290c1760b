"""Progress of long loops: a tqdm bar in a terminal, plain periodic lines anywhere else.

Outside a terminal (CI logs, ``ros2 launch`` output files) a tqdm bar is thousands of
carriage-return updates on one line; there :class:`PlainProgress` prints one line every
:data:`LINE_FRACTION` of the total or every :data:`LINE_PERIOD_S`, whichever comes first, and
one at the end. Every progress display of the package goes through :func:`progress_bar`.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TextIO

# Without a terminal: a line per this share of the total, or per this many seconds.
LINE_FRACTION = 0.1
LINE_PERIOD_S = 30.0


def progress_bar(iterable: Optional[Iterable] = None, *, total: Optional[int] = None,
             desc: str = "", unit: str = "it", disable: bool = False, leave: bool = True,
             initial: int = 0, stream: Optional[TextIO] = None) -> Any:
    """Return a tqdm bar when ``stream`` (default stderr) is a terminal, else PlainProgress.

    Both iterate ``iterable``, are context managers and have ``update``, ``set_postfix``
    and ``close``.
    """
    stream = stream or sys.stderr
    if _is_terminal(stream):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                    leave=leave, initial=initial, file=stream)
    return PlainProgress(iterable, total=total, desc=desc, unit=unit, disable=disable,
                         initial=initial, stream=stream)


def write(line: str) -> None:
    """Print ``line`` on stdout without breaking a bar being drawn (tqdm.write)."""
    from tqdm import tqdm

    tqdm.write(line)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False


class PlainProgress:
    """Progress as plain lines: ``desc: 40/400 frame (10 %), 12.5 frame/s, loss=0.3``."""

    def __init__(self, iterable: Optional[Iterable] = None, total: Optional[int] = None,
                 desc: str = "", unit: str = "it", disable: bool = False, initial: int = 0,
                 stream: Optional[TextIO] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.disable, self.stream, self.clock = disable, stream or sys.stderr, clock
        self.n = self._start_n = initial
        self.postfix = ""
        self._start = self._last_time = clock()
        self._last_n = initial
        self._closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        step = max(1, int(LINE_FRACTION * self.total)) if self.total else None
        if ((step is not None and self.n - self._last_n >= step)
                or now - self._last_time >= LINE_PERIOD_S):
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n != self._last_n:
                self._line(self.clock())

    def _line(self, now: float) -> None:
        self._last_n, self._last_time = self.n, now
        if self.disable:
            return
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        elapsed = now - self._start
        rate = f", {_rate(self.n - self._start_n, elapsed, self.unit)}" if elapsed > 0 else ""
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {done} {self.unit}{share}{rate}{extra}", file=self.stream,
              flush=True)


def _rate(count: int, elapsed_s: float, unit: str) -> str:
    """``12.5 frame/s``, or ``40.2 s/net`` below one per second (as tqdm)."""
    per_s = count / elapsed_s
    if per_s >= 1.0 or per_s <= 0.0:
        return f"{per_s:.1f} {unit}/s"
    return f"{1.0 / per_s:.1f} s/{unit}"
