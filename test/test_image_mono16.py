"""Padded multi-row mono16 from hand-built messages, both byte orders (no ROS needed).

The message is a plain namespace with the fields of ``sensor_msgs/Image``; the bytes are
written out by hand here, so neither the reader nor the writer under test makes them.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from finetrack_ros.image_codec import image_msg_to_bgr

# 3 rows x 4 pixels; high and low bytes differ everywhere, so a swapped byte order shows.
VALUES = [[0x1234, 0xAB01, 0x00FF, 0x7F80],
          [0xFE02, 0x0310, 0x8000, 0x40C0],
          [0x2211, 0x9A5B, 0xC3E7, 0x0F0E]]
# mono16 -> 8 bit keeps the high byte (value >> 8, as cv_bridge does)
GREY = [[0x12, 0xAB, 0x00, 0x7F],
        [0xFE, 0x03, 0x80, 0x40],
        [0x22, 0x9A, 0xC3, 0x0F]]
PADDING = b"\xee\xdd\xcc\xbb\xaa\x99"  # 6 bytes of garbage after every row


def mono16_msg(big_endian: bool, pad_last_row: bool = True) -> SimpleNamespace:
    rows = []
    for row in VALUES:
        pixels = b"".join(v.to_bytes(2, "big" if big_endian else "little") for v in row)
        rows.append(pixels + PADDING)
    data = b"".join(rows)
    if not pad_last_row:
        data = data[:-len(PADDING)]
    return SimpleNamespace(height=3, width=4, encoding="mono16", is_bigendian=int(big_endian),
                           step=4 * 2 + len(PADDING), data=data)


@pytest.mark.parametrize("big_endian", [False, True], ids=["little_endian", "big_endian"])
@pytest.mark.parametrize("pad_last_row", [True, False], ids=["last_row_padded", "last_row_cut"])
def test_padded_mono16_decodes_to_the_high_byte_grey(big_endian, pad_last_row):
    bgr = image_msg_to_bgr(mono16_msg(big_endian, pad_last_row))
    assert bgr.shape == (3, 4, 3) and bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr, np.repeat(np.array(GREY, np.uint8)[:, :, None], 3, 2))


def test_the_byte_order_flag_changes_the_pixels():
    little = mono16_msg(big_endian=False)
    little.is_bigendian = 1  # same bytes, read as big endian: the low bytes become grey
    low_bytes = [[v & 0xFF for v in row] for row in VALUES]
    np.testing.assert_array_equal(image_msg_to_bgr(little)[:, :, 0], low_bytes)
