"""Message <-> array conversion for every supported encoding (no ROS needed).

Messages are built from a known RGB image with independent numpy encoders (row
padding included) and must decode back to it; ROS 2 message stand-ins come from
rosbags where the test checks the real field names.
"""

import array
import dataclasses

import cv2
import numpy as np
import pytest
from conftest import ros2_types

from bodypix_ros.errors import ImageDataError, UnsupportedEncodingError
from bodypix_ros.ros.image_codec import (
    SUPPORTED_ENCODINGS,
    color_fields,
    decode_compressed,
    decode_image,
    image_to_rgb,
    mono8_fields,
    reencode_compressed,
    reencode_image,
    rgb_to_yuv422,
)

PADDING = 7
"""Extra bytes at the end of every row: decoders must honour `step`."""


def sample_rgb(height=24, width=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def padded_rows(pixels: np.ndarray, padding: int = PADDING):
    """(H, W, ...) array -> (bytes with `padding` garbage bytes after each row, step)."""
    rows = np.ascontiguousarray(pixels).reshape(pixels.shape[0], -1).view(np.uint8)
    garbage = np.full((rows.shape[0], padding), 0xAB, dtype=np.uint8)
    return np.concatenate([rows, garbage], axis=1).tobytes(), rows.shape[1] + padding


def decode_pixels(encoding, pixels, is_bigendian=0, data_type=bytes):
    data, step = padded_rows(pixels)
    height, width = pixels.shape[:2]
    return image_to_rgb(encoding, height, width, step, is_bigendian, data_type(data))


@pytest.mark.parametrize("data_type", [bytes, lambda data: array.array("B", data),
                                       lambda data: np.frombuffer(data, np.uint8)],
                         ids=["bytes", "array.array", "ndarray"])
def test_rgb8_with_row_padding_for_every_data_container(data_type):
    rgb = sample_rgb()
    np.testing.assert_array_equal(decode_pixels("rgb8", rgb, data_type=data_type), rgb)


@pytest.mark.parametrize("data_type", [bytes, bytearray, lambda data: array.array("B", data)],
                         ids=["bytes", "bytearray", "array.array"])
def test_unpadded_rgb8_decodes_to_a_new_writable_array(data_type):
    rgb = sample_rgb()
    data = data_type(rgb.tobytes())
    decoded = image_to_rgb("rgb8", rgb.shape[0], rgb.shape[1], rgb.shape[1] * 3, 0, data)
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    assert not np.shares_memory(decoded, np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(decoded, rgb)


def test_blue_first_and_alpha_encodings_give_rgb():
    rgb = sample_rgb()
    alpha = np.full(rgb.shape[:2] + (1,), 77, dtype=np.uint8)
    np.testing.assert_array_equal(decode_pixels("bgr8", rgb[:, :, ::-1]), rgb)
    np.testing.assert_array_equal(
        decode_pixels("rgba8", np.concatenate([rgb, alpha], axis=2)), rgb
    )
    np.testing.assert_array_equal(
        decode_pixels("bgra8", np.concatenate([rgb[:, :, ::-1], alpha], axis=2)), rgb
    )


def test_mono8_is_replicated_to_three_channels():
    gray = sample_rgb()[:, :, 0]
    decoded = decode_pixels("mono8", gray)
    assert decoded.shape == gray.shape + (3,)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[:, :, channel], gray)


def stretched(values):
    top = max(int(values.max()), 255)
    return np.floor(values.astype(np.float64) * 255.0 / top + 0.5).astype(np.uint8)


@pytest.mark.parametrize("is_bigendian", [0, 1])
def test_mono16_is_stretched_from_zero_to_the_brightest_pixel(is_bigendian):
    values = np.random.default_rng(1).integers(0, 4096, (10, 14), dtype=np.uint16)  # 12-bit camera
    values[0, 0] = 4095
    stored = values.astype(">u2" if is_bigendian else "<u2")
    decoded = decode_pixels("mono16", stored, is_bigendian=is_bigendian)
    np.testing.assert_array_equal(decoded[:, :, 0], stretched(values))
    assert decoded[0, 0, 0] == 255
    np.testing.assert_array_equal(decoded[:, :, 0], decoded[:, :, 2])


def test_mono16_holding_8_bit_values_passes_unchanged():
    values = np.arange(200, dtype=np.uint16).reshape(10, 20)
    np.testing.assert_array_equal(decode_pixels("mono16", values.astype("<u2"))[:, :, 1], values)


def bt601_limited_rgb(y, u, v):
    """The ITU-R BT.601 limited-range YUV -> RGB formula (what YUV422 cameras send)."""
    y, u, v = (np.asarray(c, np.float64) for c in (y, u, v))
    rgb = np.stack([1.164 * (y - 16) + 1.596 * (v - 128),
                    1.164 * (y - 16) - 0.813 * (v - 128) - 0.391 * (u - 128),
                    1.164 * (y - 16) + 2.018 * (u - 128)], axis=-1)
    return np.clip(np.rint(rgb), 0, 255)


def yuv_planes(height=6, width=16, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.integers(16, 236, (height, width), dtype=np.uint8)
    u = rng.integers(64, 192, (height, width // 2), dtype=np.uint8)
    v = rng.integers(64, 192, (height, width // 2), dtype=np.uint8)
    return y, u, v


def uyvy_pixels(y, u, v):
    """ROS yuv422 / uyvy byte order: U0 Y0 V0 Y1 per pixel pair, as (H, W, 2)."""
    quads = np.stack([u, y[:, 0::2], v, y[:, 1::2]], axis=-1)
    return quads.reshape(y.shape[0], y.shape[1], 2)


def yuy2_pixels(y, u, v):
    """ROS yuv422_yuy2 / yuyv byte order: Y0 U0 Y1 V0 per pixel pair, as (H, W, 2)."""
    quads = np.stack([y[:, 0::2], u, y[:, 1::2], v], axis=-1)
    return quads.reshape(y.shape[0], y.shape[1], 2)


@pytest.mark.parametrize("encoding,layout", [("yuv422", uyvy_pixels), ("uyvy", uyvy_pixels),
                                             ("yuv422_yuy2", yuy2_pixels), ("yuyv", yuy2_pixels)])
def test_yuv422_byte_orders_follow_bt601(encoding, layout):
    y, u, v = yuv_planes()
    decoded = decode_pixels(encoding, layout(y, u, v))
    expected = bt601_limited_rgb(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    assert np.abs(decoded.astype(np.int16) - expected).max() <= 2


def test_yuv422_with_odd_width_is_refused():
    with pytest.raises(ImageDataError, match="even"):
        image_to_rgb("yuv422", 2, 3, 6, 0, bytes(12))


PATCH_COLORS = np.array(
    [(200, 30, 40), (20, 180, 60), (30, 60, 210), (240, 220, 20)], dtype=np.uint8
)


def bayer_mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """The raw Bayer image a sensor with `pattern` (top-left 2x2, row major, e.g. 'rggb')
    records."""
    channel = {"r": 0, "g": 1, "b": 2}
    mosaic = np.empty(rgb.shape[:2], dtype=np.uint8)
    for index, letter in enumerate(pattern):
        row, column = divmod(index, 2)
        mosaic[row::2, column::2] = rgb[row::2, column::2, channel[letter]]
    return mosaic


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_patterns_demosaic_to_the_recorded_colours(pattern):
    patch = 16
    rgb = np.repeat(np.repeat(PATCH_COLORS.reshape(2, 2, 3), patch, axis=0), patch, axis=1)
    decoded = decode_pixels(f"bayer_{pattern}8", bayer_mosaic(rgb, pattern))
    for row in range(2):
        for column in range(2):
            inner = decoded[
                row * patch + 3 : (row + 1) * patch - 3,
                column * patch + 3 : (column + 1) * patch - 3,
            ]
            difference = np.abs(inner.astype(np.int16) - PATCH_COLORS[row * 2 + column]).max()
            assert difference <= 2, (pattern, row, column, inner[0, 0])


def test_every_supported_encoding_decodes_to_rgb_of_the_message_size():
    for encoding in SUPPORTED_ENCODINGS:
        bytes_per_pixel = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono16": 2}.get(
            encoding, 2 if "yuv" in encoding or encoding in ("uyvy", "yuyv") else 1)
        height, width = 6, 10
        step = width * bytes_per_pixel + 3
        decoded = image_to_rgb(encoding, height, width, step, 0, bytes(step * height))
        assert decoded.shape == (height, width, 3) and decoded.dtype == np.uint8, encoding
        assert decoded.flags.c_contiguous, encoding


@pytest.mark.parametrize("encoding",
                         ["32FC1", "16UC1", "rgb16", "bayer_rggb16", "nv21", "RGB8", ""])
def test_unsupported_encodings_are_named_in_the_error(encoding):
    with pytest.raises(UnsupportedEncodingError) as caught:
        image_to_rgb(encoding, 2, 2, 8, 0, bytes(16))
    assert caught.value.encoding == encoding


@pytest.mark.parametrize("height,width,step,size,match", [
    (4, 4, 12, 47, "needs 48"),         # one byte short
    (4, 4, 11, 64, "shorter than a row"),
    (0, 4, 12, 0, "empty"),
])
def test_inconsistent_size_fields_are_refused(height, width, step, size, match):
    with pytest.raises(ImageDataError, match=match):
        image_to_rgb("rgb8", height, width, step, 0, bytes(size))


def test_last_row_may_omit_its_padding():
    rgb = sample_rgb(3, 5)
    data, step = padded_rows(rgb)
    np.testing.assert_array_equal(image_to_rgb("rgb8", 3, 5, step, 0, data[:-PADDING]), rgb)


def test_decode_image_reads_ros2_image_messages():
    types = ros2_types()
    rgb = sample_rgb()
    data, step = padded_rows(rgb[:, :, ::-1])
    message = types["sensor_msgs/msg/Image"](
        header=types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=3, nanosec=4), frame_id="camera"),
        height=rgb.shape[0], width=rgb.shape[1], encoding="bgr8", is_bigendian=0, step=step,
        data=np.frombuffer(data, np.uint8))
    frame = decode_image(message)
    np.testing.assert_array_equal(frame.rgb, rgb)
    assert frame.bgr_ordered
    as_rgb8 = decode_image(dataclasses.replace(message, encoding="rgb8"))
    np.testing.assert_array_equal(as_rgb8.rgb, rgb[:, :, ::-1])
    assert not as_rgb8.bgr_ordered


def compressed_message(format_, data: bytes):
    types = ros2_types()
    return types["sensor_msgs/msg/CompressedImage"](
        header=types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="camera"
        ),
        format=format_,
        data=np.frombuffer(data, np.uint8),
    )


def smooth_rgb(height=48, width=64):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 5, columns * 4, (rows + columns) * 2], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("format_,bgr_ordered", [
    ("png", False), ("rgb8; png compressed bgr8", False), ("bgr8; png compressed bgr8", True),
    ("", False)])
def test_png_compressed_images_decode_exactly(format_, bgr_ordered):
    rgb = smooth_rgb()
    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    assert ok
    frame = decode_compressed(compressed_message(format_, png.tobytes()))
    np.testing.assert_array_equal(frame.rgb, rgb)
    assert frame.bgr_ordered == bgr_ordered


def test_jpeg_compressed_images_decode_close_to_the_original():
    rgb = smooth_rgb()
    ok, jpeg = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    frame = decode_compressed(compressed_message("bgr8; jpeg compressed bgr8", jpeg.tobytes()))
    assert frame.rgb.shape == rgb.shape
    assert np.abs(frame.rgb.astype(np.int16) - rgb).mean() < 3.0
    assert frame.bgr_ordered


def test_grayscale_png_decodes_to_three_channels():
    gray = smooth_rgb()[:, :, 1]
    ok, png = cv2.imencode(".png", gray)
    frame = decode_compressed(compressed_message("mono8; png compressed mono8", png.tobytes()))
    np.testing.assert_array_equal(frame.rgb, np.repeat(gray[:, :, None], 3, axis=2))


def test_compressed_depth_is_unsupported_and_named():
    ok, png = cv2.imencode(".png", np.zeros((4, 4), np.uint16))
    depth = bytes(12) + png.tobytes()  # compressedDepth: a 12-byte config header, then PNG
    with pytest.raises(UnsupportedEncodingError) as caught:
        decode_compressed(compressed_message("16UC1; compressedDepth png", depth))
    assert caught.value.encoding == "16UC1; compressedDepth png"


def test_corrupt_or_empty_compressed_data_is_refused():
    with pytest.raises(ImageDataError):
        decode_compressed(compressed_message("jpeg", b"\xff\xd8\xff" + bytes(50)))
    with pytest.raises(ImageDataError):
        decode_compressed(compressed_message("jpeg", b""))


def test_output_fields_round_trip_through_the_decoder():
    types = ros2_types()
    rgb = sample_rgb()
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""
    )
    for bgr_ordered in (False, True):
        fields = color_fields(rgb, bgr_ordered)
        assert fields.encoding == ("bgr8" if bgr_ordered else "rgb8")
        assert len(fields.data) == fields.step * fields.height
        message = types["sensor_msgs/msg/Image"](header=header, **fields._asdict())
        np.testing.assert_array_equal(decode_image(message).rgb, rgb)
    labels = sample_rgb()[:, :, 0]
    fields = mono8_fields(labels)
    assert (fields.encoding, fields.step, fields.height, fields.width) == ("mono8", 32, 24, 32)
    np.testing.assert_array_equal(np.asarray(fields.data).reshape(labels.shape), labels)


def test_output_fields_refuse_wrong_shapes():
    with pytest.raises(ValueError):
        mono8_fields(np.zeros((2, 2, 1), np.uint8))
    with pytest.raises(ValueError):
        color_fields(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError):
        mono8_fields(np.zeros((2, 2), np.uint16))


BYTES_PER_PIXEL = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 2,
                   "yuv422": 2, "uyvy": 2, "yuv422_yuy2": 2, "yuyv": 2}
"""Bytes per pixel of each encoding (Bayer: 1)."""
BOX = (slice(4, 12), slice(6, 18))
"""The pixels changed in the re-encoding tests (even columns, as yuv422 pairs need)."""


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
@pytest.mark.parametrize("is_bigendian", [0, 1])
def test_reencoding_changes_only_the_changed_pixels_in_the_inputs_own_layout(encoding,
                                                                             is_bigendian):
    types = ros2_types()
    height, width = 16, 24
    bytes_per_pixel = BYTES_PER_PIXEL.get(encoding, 1)
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, (height, width * bytes_per_pixel), dtype=np.uint8)
    data, step = padded_rows(raw)
    message = types["sensor_msgs/msg/Image"](
        header=compressed_message("", b"").header, height=height, width=width, encoding=encoding,
        is_bigendian=is_bigendian, step=step, data=np.frombuffer(data, np.uint8))
    original = decode_image(message).rgb
    new = original.copy()
    new[BOX] = (90, 140, 200) if encoding not in ("mono8", "mono16") else 120
    fields = reencode_image(message, original, new)
    assert (fields.height, fields.width, fields.encoding, fields.is_bigendian, fields.step) == (
        height, width, encoding, is_bigendian, step)
    before = np.frombuffer(data, np.uint8).reshape(height, step)
    after = np.asarray(fields.data).reshape(height, step)
    columns = slice(BOX[1].start * bytes_per_pixel, BOX[1].stop * bytes_per_pixel)
    outside = np.ones(before.shape, bool)
    outside[BOX[0], columns] = False
    np.testing.assert_array_equal(after[outside], before[outside])  # row padding included
    decoded = decode_image(dataclasses.replace(message, data=after.reshape(-1))).rgb
    inner = (slice(BOX[0].start + 2, BOX[0].stop - 2), slice(BOX[1].start + 2, BOX[1].stop - 2))
    tolerance = 0 if encoding in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8") else 3
    assert np.abs(decoded[inner].astype(int) - new[inner]).max() <= tolerance
    unchanged = reencode_image(message, original, original)
    np.testing.assert_array_equal(np.asarray(unchanged.data), np.frombuffer(data, np.uint8))


@pytest.mark.parametrize("codec", [".png", ".jpg"])
def test_compressed_images_are_reencoded_in_their_own_codec(codec):
    rgb = smooth_rgb()
    ok, encoded = cv2.imencode(codec, np.ascontiguousarray(rgb[:, :, ::-1]))
    message = compressed_message("bgr8; compressed bgr8", encoded.tobytes())
    new = rgb.copy()
    new[10:30, 20:40] = (250, 10, 10)
    data = reencode_compressed(message, new)
    assert data[:4] == encoded.tobytes()[:4]
    decoded = decode_compressed(dataclasses.replace(message, data=np.frombuffer(data, np.uint8)))
    difference = np.abs(decoded.rgb.astype(int) - new)
    assert difference.max() == 0 if codec == ".png" else difference.mean() < 3


@pytest.mark.parametrize("uyvy, code",
                         [(True, "COLOR_RGB2YUV_UYVY"), (False, "COLOR_RGB2YUV_YUY2")])
def test_yuv422_encoding_matches_opencv_where_opencv_has_it(uyvy, code):
    """rgb_to_yuv422 is numpy because older OpenCV (ROS's 4.5, 4.6) lacks these codes; where
    OpenCV has them, both agree within one level."""
    if not hasattr(cv2, code):
        pytest.skip(f"OpenCV {cv2.__version__} has no {code}")
    rgb = smooth_rgb()
    ours = rgb_to_yuv422(rgb, uyvy=uyvy).astype(int)
    theirs = cv2.cvtColor(np.ascontiguousarray(rgb), getattr(cv2, code)).astype(int)
    assert np.abs(ours - theirs).max() <= 1
