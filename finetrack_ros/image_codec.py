"""``sensor_msgs/Image`` and ``CompressedImage`` <-> numpy, where ``cv_bridge`` is absent.

The one image codec of the package: the node, the offline bag replay and the bag writers all
decode and encode here. It works on any object with the message's fields (rclpy messages,
``rosbags`` messages, plain namespaces) and imports no ROS; writers return the message
fields as a dict, which :mod:`finetrack_ros.ros.image_conversion` (rclpy) and
:mod:`finetrack_ros.messages` (rclpy and rosbags) turn into their message classes.

Array layouts (H = ``height``, W = ``width``, native byte order):

==========================  ================  =========================================
encoding                    numpy             meaning
==========================  ================  =========================================
``bgr8`` / ``rgb8``         (H, W, 3) uint8   colour, channel order as named
``bgra8`` / ``rgba8``       (H, W, 4) uint8   colour + alpha
``mono8``                   (H, W) uint8      grey
``mono16``                  (H, W) uint16     grey (e.g. depth in mm)
``yuv422`` / ``uyvy``       (H, W, 2) uint8   packed U Y0 V Y1 per pixel pair (W even)
``yuv422_yuy2`` / ``yuyv``  (H, W, 2) uint8   packed Y0 U Y1 V per pixel pair (W even)
==========================  ================  =========================================

Rows may be padded: ``step`` (bytes per row) may exceed ``W * bytes_per_pixel``; padding is
dropped when reading and written as zeros. ``is_bigendian`` is honoured for ``mono16``.
"""
from __future__ import annotations

import array
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class PixelFormat:
    """Memory layout of one encoding: element type and channels per pixel."""

    dtype: np.dtype
    channels: int
    # cv2.cvtColor code to BGR, or None when the array already is BGR.
    to_bgr: int | None
    # Pixels per packed group along a row (2 for the YUV 4:2:2 formats: W must be even).
    pixels_per_group: int = 1

    @property
    def bytes_per_pixel(self) -> int:
        return self.dtype.itemsize * self.channels


_U8 = np.dtype(np.uint8)
_U16 = np.dtype(np.uint16)

PIXEL_FORMATS: dict[str, PixelFormat] = {
    "bgr8": PixelFormat(_U8, 3, None),
    "rgb8": PixelFormat(_U8, 3, cv2.COLOR_RGB2BGR),
    "bgra8": PixelFormat(_U8, 4, cv2.COLOR_BGRA2BGR),
    "rgba8": PixelFormat(_U8, 4, cv2.COLOR_RGBA2BGR),
    "mono8": PixelFormat(_U8, 1, cv2.COLOR_GRAY2BGR),
    "mono16": PixelFormat(_U16, 1, cv2.COLOR_GRAY2BGR),
    "yuv422": PixelFormat(_U8, 2, cv2.COLOR_YUV2BGR_UYVY, pixels_per_group=2),
    "uyvy": PixelFormat(_U8, 2, cv2.COLOR_YUV2BGR_UYVY, pixels_per_group=2),
    "yuv422_yuy2": PixelFormat(_U8, 2, cv2.COLOR_YUV2BGR_YUYV, pixels_per_group=2),
    "yuyv": PixelFormat(_U8, 2, cv2.COLOR_YUV2BGR_YUYV, pixels_per_group=2),
}

SUPPORTED_ENCODINGS = tuple(PIXEL_FORMATS)

# mono16 -> 8 bit for the pipeline keeps the high byte (value // 256), as cv_bridge does.
MONO16_TO_8_SHIFT = 8

# CompressedImage.format is "png", "jpeg" or image_transport's "bgr8; jpeg compressed bgr8".
_COMPRESSED_EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "jpg": ".jpg"}


def pixel_format(encoding: str) -> PixelFormat:
    """Return the layout of ``encoding``; raise ValueError naming it when it is not supported."""
    fmt = PIXEL_FORMATS.get(encoding.lower())
    if fmt is None:
        raise ValueError(
            f"sensor_msgs/Image: unsupported encoding '{encoding}' "
            f"(supported: {', '.join(SUPPORTED_ENCODINGS)})"
        )
    return fmt


def _as_bytes(data: Any) -> np.ndarray:
    """``msg.data`` (bytes, array.array('B'), numpy uint8, list of ints) as a flat uint8 view."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _check_geometry(height: int, width: int, fmt: PixelFormat, encoding: str) -> None:
    if height <= 0 or width <= 0:
        raise ValueError(f"sensor_msgs/Image: height={height}, width={width}: both must be > 0")
    if width % fmt.pixels_per_group:
        raise ValueError(
            f"sensor_msgs/Image: width={width} must be a multiple of "
            f"{fmt.pixels_per_group} for encoding '{encoding}'"
        )


def image_msg_to_numpy(msg: Any) -> np.ndarray:
    """Pixels of a ``sensor_msgs/Image`` in its own encoding (layouts: module docstring).

    Returns a new C-contiguous array (never a view of ``msg.data``), native byte order.
    Raises ValueError naming the field and value for an unsupported ``encoding``, a
    ``step`` shorter than a row, or ``data`` shorter than ``height`` rows.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    fmt = pixel_format(msg.encoding)
    _check_geometry(height, width, fmt, msg.encoding)
    row_bytes = width * fmt.bytes_per_pixel
    if step < row_bytes:
        raise ValueError(
            f"sensor_msgs/Image: step={step} is shorter than one row of {width} "
            f"'{msg.encoding}' pixels ({row_bytes} bytes)"
        )
    buf = _as_bytes(msg.data)
    needed = (height - 1) * step + row_bytes  # the last row's padding may be left out
    if buf.size < needed:
        raise ValueError(
            f"sensor_msgs/Image: data has {buf.size} bytes, but height={height} rows of "
            f"step={step} need at least {needed}"
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row_bytes), strides=(step, 1))
    dtype = fmt.dtype
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    pixels = rows.copy().view(dtype).astype(fmt.dtype, copy=False)  # copy: drops padding
    shape = (height, width) if fmt.channels == 1 else (height, width, fmt.channels)
    return pixels.reshape(shape)


def image_fields(
    pixels: np.ndarray,
    encoding: str,
    step: int | None = None,
    is_bigendian: bool = False,
) -> dict:
    """Return the ``sensor_msgs/Image`` fields (all but ``header``) holding ``pixels``.

    Layout for ``encoding``: module doc. ``step`` defaults to the row size; a larger one pads
    every row with zeros. ``is_bigendian`` selects the byte order written for ``mono16``.
    ``data`` is an ``array.array('B')`` (what rclpy stores; rosbags takes it via numpy).
    """
    fmt = pixel_format(encoding)
    pixels = np.asarray(pixels)
    want_ndim = 2 if fmt.channels == 1 else 3
    if pixels.ndim != want_ndim or (want_ndim == 3 and pixels.shape[2] != fmt.channels):
        raise ValueError(
            f"image_fields: encoding '{encoding}' needs an array of shape "
            f"{'(H, W)' if want_ndim == 2 else f'(H, W, {fmt.channels})'}, got {pixels.shape}"
        )
    if pixels.dtype != fmt.dtype:
        raise ValueError(
            f"image_fields: encoding '{encoding}' needs dtype {fmt.dtype}, got {pixels.dtype}"
        )
    height, width = pixels.shape[:2]
    _check_geometry(height, width, fmt, encoding)
    row_bytes = width * fmt.bytes_per_pixel
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise ValueError(f"image_fields: step={step} < row size {row_bytes} bytes")
    order = ">" if is_bigendian else "<"
    raw = pixels.astype(fmt.dtype.newbyteorder(order), copy=False).reshape(height, -1)
    padded = np.zeros((height, step), np.uint8)
    padded[:, :row_bytes] = raw.view(np.uint8).reshape(height, row_bytes)
    return {"height": height, "width": width, "encoding": encoding, "step": step,
            "is_bigendian": int(bool(is_bigendian)), "data": array.array("B", padded.tobytes())}


def _compressed_extension(fmt: str) -> str:
    """``CompressedImage.format`` -> file extension for OpenCV ('.png' or '.jpg')."""
    for word in fmt.lower().replace(";", " ").split():
        if word in _COMPRESSED_EXTENSIONS:
            return _COMPRESSED_EXTENSIONS[word]
    raise ValueError(
        f"sensor_msgs/CompressedImage: unsupported format '{fmt}' "
        f"(supported: {', '.join(sorted(_COMPRESSED_EXTENSIONS))})"
    )


def compressed_msg_to_bgr(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) to (H, W, 3) uint8 BGR."""
    _compressed_extension(msg.format)  # reject unknown formats with a clear message
    buf = _as_bytes(msg.data)
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if image is None:
        raise ValueError(
            f"sensor_msgs/CompressedImage: could not decode {buf.size} bytes of "
            f"format '{msg.format}'"
        )
    return image


def compressed_fields(bgr: np.ndarray, fmt: str = "png", quality: int = 95) -> dict:
    """Encode (H, W, 3) uint8 BGR as ``sensor_msgs/CompressedImage`` fields (all but ``header``).

    ``fmt`` is 'png' or 'jpeg'; ``quality`` is the JPEG quality (0-100).
    """
    bgr = np.asarray(bgr)
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError(
            f"compressed_fields: need (H, W, 3) uint8 BGR, got {bgr.shape} {bgr.dtype}"
        )
    extension = _compressed_extension(fmt)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if extension == ".jpg" else []
    ok, encoded = cv2.imencode(extension, bgr, params)
    if not ok:
        raise ValueError(f"compressed_fields: OpenCV could not encode format '{fmt}'")
    return {"format": fmt, "data": array.array("B", encoded.tobytes())}


def numpy_to_bgr(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Array in ``encoding`` (layout: module doc) -> (H, W, 3) uint8 BGR for the pipeline.

    mono16 keeps the high byte (value >> 8); alpha channels are dropped.
    """
    fmt = pixel_format(encoding)
    if fmt.dtype == _U16:
        pixels = (pixels >> MONO16_TO_8_SHIFT).astype(np.uint8)
    if fmt.to_bgr is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(pixels, fmt.to_bgr)


def image_msg_to_bgr(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` or ``CompressedImage`` to (H, W, 3) uint8 BGR.

    The pipeline's input format. Raises ValueError naming the field and value for
    unsupported encodings/formats and inconsistent sizes.
    """
    if not hasattr(msg, "encoding") and hasattr(msg, "format"):
        return compressed_msg_to_bgr(msg)
    return numpy_to_bgr(image_msg_to_numpy(msg), msg.encoding)
