"""rclpy ``sensor_msgs`` image messages from numpy.

The codec is :mod:`finetrack_ros.image_codec`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from finetrack_ros.image_codec import compressed_fields, image_fields


def numpy_to_image_msg(
    pixels: np.ndarray,
    encoding: str,
    header: Any = None,
    step: int | None = None,
    is_bigendian: bool = False,
) -> Image:
    """Wrap ``pixels`` in a ``sensor_msgs.msg.Image`` (see :func:`image_codec.image_fields`)."""
    msg = Image(**image_fields(pixels, encoding, step, is_bigendian))
    if header is not None:
        msg.header = header
    return msg


def bgr_to_compressed_msg(bgr: np.ndarray, fmt: str = "png", header: Any = None) -> CompressedImage:
    """Encode (H, W, 3) uint8 BGR as a ``sensor_msgs.msg.CompressedImage``, ``fmt`` 'png'/'jpeg'."""
    msg = CompressedImage(**compressed_fields(bgr, fmt))
    if header is not None:
        msg.header = header
    return msg
