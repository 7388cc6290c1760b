"""sensor_msgs/Image and CompressedImage <-> numpy (image_codec, ros.image_conversion).

The codec is finetrack_ros.image_codec; the rclpy writers are finetrack_ros.ros.image_conversion.

Reading is checked on hand-made byte layouts (no ROS needed); round trips use the real
sensor_msgs message classes from the ROS wheels and skip without them.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from ros_helpers import import_ros_module

from finetrack_ros import image_codec as ic

H, W = 5, 6  # tiny images; W even for the YUV 4:2:2 encodings


def random_pixels(encoding: str, rng: np.random.Generator) -> np.ndarray:
    fmt = ic.pixel_format(encoding)
    shape = (H, W) if fmt.channels == 1 else (H, W, fmt.channels)
    return rng.integers(0, np.iinfo(fmt.dtype).max + 1, size=shape, dtype=fmt.dtype)


def raw_msg(encoding, data, height=1, width=2, step=None, is_bigendian=0):
    """Build a duck-typed Image, as bags and other producers hand them over."""
    if step is None:
        step = len(data) // height
    return SimpleNamespace(height=height, width=width, encoding=encoding, step=step,
                           is_bigendian=is_bigendian, data=bytes(data))


# --- reading known byte layouts (no ROS needed) ------------------------------------------

def test_padded_rows_are_dropped_whatever_the_padding_holds():
    # 2x2 rgb8, step 8: 6 pixel bytes + 2 garbage bytes per row.
    data = [1, 2, 3, 4, 5, 6, 99, 98, 7, 8, 9, 10, 11, 12, 97, 96]
    pixels = ic.image_msg_to_numpy(raw_msg("rgb8", data, height=2, width=2, step=8))
    assert pixels.shape == (2, 2, 3)
    np.testing.assert_array_equal(pixels.reshape(-1), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])


def test_last_row_padding_may_be_missing():
    data = [1, 2, 0, 0, 3, 4]  # 2x2 mono8, step 4, last row not padded
    pixels = ic.image_msg_to_numpy(raw_msg("mono8", data, height=2, width=2, step=4))
    np.testing.assert_array_equal(pixels, [[1, 2], [3, 4]])


@pytest.mark.parametrize("is_bigendian, expected", [(0, [0x0201, 0x0403]),
                                                    (1, [0x0102, 0x0304])])
def test_mono16_byte_order_follows_is_bigendian(is_bigendian, expected):
    msg = raw_msg("mono16", [1, 2, 3, 4], is_bigendian=is_bigendian)
    pixels = ic.image_msg_to_numpy(msg)
    assert pixels.dtype == np.uint16 and pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, [expected])


def test_result_does_not_alias_message_data():
    msg = raw_msg("mono8", [10, 20])
    msg.data = bytearray(msg.data)
    pixels = ic.image_msg_to_numpy(msg)
    msg.data[0] = 0
    assert pixels[0, 0] == 10


@pytest.mark.parametrize("encoding, data", [
    ("uyvy", [128, 50, 128, 200]), ("yuv422", [128, 50, 128, 200]),
    ("yuyv", [50, 128, 200, 128]), ("yuv422_yuy2", [50, 128, 200, 128]),
])
def test_yuv422_grey_pixels_decode_to_their_luma(encoding, data):
    bgr = ic.image_msg_to_bgr(raw_msg(encoding, data)).astype(int)
    # U = V = 128 is colourless: B = G = R, from video-range luma (BT.601, Y in 16..235).
    expected = [[[round(255 / 219 * (y - 16))] * 3 for y in (50, 200)]]
    assert np.abs(bgr - expected).max() <= 1


def test_to_bgr_channel_orders_alpha_and_depth():
    rgb = raw_msg("rgb8", [10, 20, 30, 40, 50, 60])
    np.testing.assert_array_equal(ic.image_msg_to_bgr(rgb), [[[30, 20, 10], [60, 50, 40]]])
    rgba = raw_msg("rgba8", [10, 20, 30, 255, 40, 50, 60, 0])
    np.testing.assert_array_equal(ic.image_msg_to_bgr(rgba), [[[30, 20, 10], [60, 50, 40]]])
    bgra = raw_msg("bgra8", [10, 20, 30, 255, 40, 50, 60, 0])
    np.testing.assert_array_equal(ic.image_msg_to_bgr(bgra), [[[10, 20, 30], [40, 50, 60]]])
    mono8 = raw_msg("mono8", [7, 250])
    np.testing.assert_array_equal(ic.image_msg_to_bgr(mono8), [[[7] * 3, [250] * 3]])
    mono16 = raw_msg("mono16", [0xFF, 0x12, 0x34, 0x00])  # little endian: 0x12FF, 0x0034
    np.testing.assert_array_equal(ic.image_msg_to_bgr(mono16), [[[0x12] * 3, [0] * 3]])
    bgr = ic.image_msg_to_bgr(raw_msg("bgr8", [1, 2, 3, 4, 5, 6]))
    assert bgr.dtype == np.uint8 and bgr.shape == (1, 2, 3) and bgr.flags.c_contiguous


@pytest.mark.parametrize("msg, match", [
    (raw_msg("32FC1", [0] * 8), "encoding '32FC1'"),
    (raw_msg("bayer_rggb8", [0, 0]), "encoding 'bayer_rggb8'"),
    (raw_msg("rgb8", [0] * 6, step=5), "step=5"),
    (raw_msg("rgb8", [0] * 5, step=6), "data has 5 bytes"),
    (raw_msg("uyvy", [0] * 6, width=3, step=6), "width=3"),
    (raw_msg("mono8", [], height=0, width=2, step=2), "height=0"),
])
def test_bad_images_raise_naming_the_field(msg, match):
    with pytest.raises(ValueError, match=match):
        ic.image_msg_to_bgr(msg)


def test_compressed_image_with_unknown_format_or_garbage_raises():
    with pytest.raises(ValueError, match="format 'tiff'"):
        ic.image_msg_to_bgr(SimpleNamespace(format="tiff", data=b"\x00"))
    with pytest.raises(ValueError, match="could not decode 3 bytes"):
        ic.image_msg_to_bgr(SimpleNamespace(format="jpeg", data=b"abc"))


# --- round trips through the real message classes ---------------------------------------

@pytest.fixture(scope="module")
def sensor_msgs():
    return import_ros_module("sensor_msgs.msg")  # skips without ROS, fails when required


@pytest.fixture(scope="module")
def rc(sensor_msgs):
    """Return the rclpy message writers."""
    from finetrack_ros.ros import image_conversion

    return image_conversion


@pytest.mark.parametrize("encoding", ic.SUPPORTED_ENCODINGS)
@pytest.mark.parametrize("padding", [0, 3, 16])
def test_round_trip_is_bit_exact(sensor_msgs, rc, encoding, padding):
    rng = np.random.default_rng(len(encoding) * 31 + padding)
    pixels = random_pixels(encoding, rng)
    row_bytes = W * ic.pixel_format(encoding).bytes_per_pixel
    msg = rc.numpy_to_image_msg(pixels, encoding, step=row_bytes + padding)
    assert isinstance(msg, sensor_msgs.Image)
    assert (msg.height, msg.width, msg.step) == (H, W, row_bytes + padding)
    assert len(msg.data) == H * msg.step
    back = ic.image_msg_to_numpy(msg)
    assert back.dtype == pixels.dtype and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)


@pytest.mark.parametrize("is_bigendian", [False, True])
def test_mono16_round_trip_in_both_byte_orders(rc, is_bigendian):
    pixels = random_pixels("mono16", np.random.default_rng(7))
    pixels[0, 0] = 0x1234
    msg = rc.numpy_to_image_msg(pixels, "mono16", step=W * 2 + 2, is_bigendian=is_bigendian)
    assert msg.is_bigendian == int(is_bigendian)
    assert bytes(msg.data[:2]) == (b"\x12\x34" if is_bigendian else b"\x34\x12")
    np.testing.assert_array_equal(ic.image_msg_to_numpy(msg), pixels)


def test_header_is_kept_and_writer_rejects_wrong_arrays(rc):
    from std_msgs.msg import Header

    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = rc.numpy_to_image_msg(np.zeros((2, 2, 3), np.uint8), "bgr8", header=header)
    assert msg.header.frame_id == "camera" and msg.header.stamp.nanosec == 345
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        rc.numpy_to_image_msg(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(ValueError, match="dtype uint16"):
        rc.numpy_to_image_msg(np.zeros((2, 2), np.uint8), "mono16")
    with pytest.raises(ValueError, match="step=2"):
        rc.numpy_to_image_msg(np.zeros((2, 2, 3), np.uint8), "bgr8", step=2)


def test_compressed_png_round_trip_is_exact_and_jpeg_close(sensor_msgs, rc):
    bgr = random_pixels("bgr8", np.random.default_rng(3))
    png = rc.bgr_to_compressed_msg(bgr, "png")
    assert isinstance(png, sensor_msgs.CompressedImage)
    np.testing.assert_array_equal(ic.image_msg_to_bgr(png), bgr)
    smooth = np.full((16, 16, 3), (30, 120, 220), np.uint8)  # JPEG is lossy: flat colour
    jpeg = rc.bgr_to_compressed_msg(smooth, "jpeg")
    jpeg.format = "bgr8; jpeg compressed bgr8"  # image_transport's spelling
    decoded = ic.image_msg_to_bgr(jpeg)
    assert decoded.shape == smooth.shape
    assert np.abs(decoded.astype(int) - smooth).max() <= 3
