"""Progress output: a tqdm bar in a terminal, a few plain lines in a log file."""
from __future__ import annotations

import io

from tqdm import tqdm

from finetrack_ros import progress
from finetrack_ros.progress import PlainProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_a_tqdm_bar() -> None:
    stream = Terminal()
    with progress_bar(total=5, desc="track", stream=stream) as bar:
        assert isinstance(bar, tqdm)
        bar.update(5)
    assert "\r" in stream.getvalue()


def test_a_log_file_gets_one_line_per_tenth_and_no_carriage_return() -> None:
    stream = io.StringIO()
    items = list(progress_bar(range(1000), desc="track", unit="frame", stream=stream))
    assert items == list(range(1000))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 10, lines
    assert lines[0].startswith("track: 100/1000 frame (10 %)")
    assert lines[-1].startswith("track: 1000/1000 frame (100 %)")


def test_plain_lines_also_come_every_period_and_at_the_end() -> None:
    stream, clock = io.StringIO(), FakeClock()
    bar = PlainProgress(total=1_000_000, desc="train", unit="it", stream=stream, clock=clock)
    bar.update(1)
    assert stream.getvalue() == ""  # neither 10 % nor the period yet
    clock.now = progress.LINE_PERIOD_S
    bar.set_postfix(loss="0.500")
    bar.update(1)
    assert stream.getvalue().splitlines() == [
        f"train: 2/1000000 it (0 %), {progress.LINE_PERIOD_S / 2:.1f} s/it, loss=0.500"]
    bar.update(3)
    bar.close()
    bar.close()  # once
    assert stream.getvalue().splitlines()[-1].startswith("train: 5/1000000 it")
    assert len(stream.getvalue().splitlines()) == 2


def test_disabled_and_unknown_total_print_nothing_or_counts() -> None:
    stream = io.StringIO()
    with progress_bar(total=10, disable=True, stream=stream) as bar:
        bar.update(10)
    assert stream.getvalue() == ""
    list(progress_bar(iter(range(3)), desc="bag", stream=stream))
    assert len(stream.getvalue().splitlines()) == 1
    assert stream.getvalue().startswith("bag: 3 it")  # no total: the count alone
