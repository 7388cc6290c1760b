"""Annotated images: stable per-id colours, boxes where the tracks are, trails."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from finetrack_ros.visualization import TrailHistory, color_for_id, draw_tracks


def _track(track_id: int, xyxy) -> SimpleNamespace:
    return SimpleNamespace(track_id=track_id, xyxy=np.asarray(xyxy, np.float64))


def test_colors_are_stable_and_distinct() -> None:
    assert color_for_id(7) == color_for_id(7)
    colors = [color_for_id(i) for i in range(1, 21)]
    assert len(set(colors)) == 20
    assert all(0 <= c <= 255 for color in colors for c in color)
    # neighbouring ids differ clearly (golden-ratio hues), not by a shade
    assert all(np.abs(np.subtract(a, b)).sum() > 60 for a, b in zip(colors, colors[1:]))


def test_boxes_are_drawn_in_the_track_color_on_a_copy() -> None:
    frame = np.zeros((100, 120, 3), np.uint8)
    out = draw_tracks(frame, [_track(3, (20, 30, 60, 90))])
    assert frame.max() == 0  # input untouched
    assert tuple(out[60, 20]) == color_for_id(3)  # left edge of the box
    assert tuple(out[90, 40]) == color_for_id(3)  # bottom edge
    assert out[60, 40].max() == 0  # inside stays clear
    assert out[5:15, 90:].max() == 0  # far from the box nothing is drawn


def test_trails_follow_the_box_centers() -> None:
    history = TrailHistory(length=3)
    for x in (10, 20, 30, 40):
        trails = history.update([_track(1, (x, 10, x + 10, 30))])
    assert list(trails[1]) == [(25.0, 20.0), (35.0, 20.0), (45.0, 20.0)]
    out = draw_tracks(np.zeros((60, 80, 3), np.uint8), [], trails)
    assert tuple(out[20, 30]) == color_for_id(1)
    assert history.update([]) == {}  # trails of vanished ids are dropped


def test_bad_frame_is_rejected() -> None:
    with pytest.raises(ValueError, match="draw_tracks: expected"):
        draw_tracks(np.zeros((10, 10), np.uint8), [])
