"""``finetrack bench defaults``: rows, the feature cache shared by rows, the table."""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.bench.defaults import (
    PAPER,
    CachedExtractor,
    Row,
    format_table,
    parse_custom_row,
    row_tracker,
)


def test_custom_rows_are_checked_before_any_work():
    row = parse_custom_row("memory 3 s:lost_track_seconds=3,gallery_seconds=0")
    assert row.label == "memory 3 s"
    assert row.changes == {"lost_track_seconds": 3, "gallery_seconds": 0}
    config = row_tracker(row.changes, [], 7.0)
    assert config.lost_track_seconds == 3.0 and config.max_time_lost == 21
    for bad in ("no colon", "x:lost_track_seconds", "x:lost_track_seconds=-1", "x:nope=1"):
        with pytest.raises(ValueError):
            parse_custom_row(bad)


def test_rows_start_from_the_node_defaults_and_the_paper_turns_ours_off():
    defaults = row_tracker({}, [], 7.0)
    assert defaults.use_appearance and defaults.lost_track_seconds > 0
    assert defaults.frame_rate == 7.0
    paper = row_tracker(PAPER, ["track_buffer=60"], 7.0)
    assert paper.gallery_seconds == 0 and paper.part_weighting == "none"
    assert paper.lost_track_seconds == 0 and paper.track_buffer == 60
    assert not row_tracker(None, [], 7.0).use_appearance  # IoU only


class CountingExtractor:
    dim = 4

    def __init__(self):
        self.boxes_embedded = 0

    def __call__(self, frame, boxes):
        self.boxes_embedded += len(boxes)
        return np.array([[b[0], b[1], frame[0, 0, 0], 1.0] for b in boxes], np.float32)


def test_each_box_of_a_frame_is_embedded_once_for_all_rows():
    inner = CountingExtractor()
    cached = CachedExtractor().wrapping(inner)
    frame = np.full((64, 64, 3), 7, np.uint8)
    boxes = np.array([[1.0, 2.0, 10.0, 20.0], [5.0, 6.0, 15.0, 30.0]])
    first = cached(frame, boxes)
    again = cached(frame, boxes[::-1])
    assert inner.boxes_embedded == 2
    np.testing.assert_array_equal(again, first[::-1])
    other_frame = np.full((64, 64, 3), 9, np.uint8)
    assert cached(other_frame, boxes[:1])[0, 2] == 9 and inner.boxes_embedded == 3
    assert cached(frame, np.zeros((0, 4))).shape == (0, 4)
    assert cached.dim == 4  # everything else is the inner extractor's


def test_the_table_shows_mean_and_sd_per_split():
    row = Row("defaults", "node defaults", {})
    row.cells["a"] = [{"HOTA": 50.0, "AssA": 1, "IDF1": 70.0, "IDSW": 3},
                      {"HOTA": 52.0, "AssA": 1, "IDF1": 72.0, "IDSW": 5}]
    table = format_table([row], ["a", "b"])
    assert "| node defaults | 51.0 ± 1.4 | 71.0 ± 1.4 | 4.0 ± 1.4 |  |  |  |" in table
