"""sensor_msgs Image / CompressedImage fields <-> numpy arrays, without ROS.

The node and any ROS-free tool (e.g. one reading bags with `rosbags`) share this
one conversion path; it works on any object with the message's fields.
Input: every encoding in `SUPPORTED_ENCODINGS` -> (H, W, 3) uint8 RGB, honouring
`step` (row padding) and `is_bigendian`. mono16 becomes 8-bit by a linear
per-frame stretch: value * 255 / max(brightest pixel, 255), so 8-bit data stored
in 16 bits passes unchanged and 10/12/16-bit data uses the full 8-bit range.
Compressed: JPEG and PNG (recognised by their signature, whatever `format` says).
OpenCV is imported lazily, only for YUV, Bayer and compressed input.
"""

import array
from typing import NamedTuple

import numpy as np

from bodypix_ros.errors import ImageDataError, UnsupportedEncodingError

RGB_ENCODINGS = ("rgb8", "rgba8")
BGR_ENCODINGS = ("bgr8", "bgra8")
YUV_ENCODINGS = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")
BAYER_ENCODINGS = ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8")
SUPPORTED_ENCODINGS = RGB_ENCODINGS + BGR_ENCODINGS + ("mono8", "mono16") + YUV_ENCODINGS + BAYER_ENCODINGS

_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 1,
             **{name: 2 for name in YUV_ENCODINGS}, **{name: 1 for name in BAYER_ENCODINGS}}

_YUV_CODES = {"yuv422": "COLOR_YUV2RGB_UYVY", "uyvy": "COLOR_YUV2RGB_UYVY",
              "yuv422_yuy2": "COLOR_YUV2RGB_YUY2", "yuyv": "COLOR_YUV2RGB_YUY2"}
_BAYER_CODES = {"bayer_rggb8": "COLOR_BayerBG2RGB", "bayer_bggr8": "COLOR_BayerRG2RGB",
                "bayer_gbrg8": "COLOR_BayerGR2RGB", "bayer_grbg8": "COLOR_BayerGB2RGB"}
"""ROS Bayer pattern (top-left 2x2, row major) -> OpenCV code (OpenCV names the pattern by
the second row's second and third pixels, so ROS 'rggb' is OpenCV 'BG')."""

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"






class DecodedFrame(NamedTuple):
    """rgb: (H, W, 3) uint8 RGB; bgr_ordered: the source was blue-first (overlay goes out as bgr8)."""

    rgb: np.ndarray
    bgr_ordered: bool


class ImageFields(NamedTuple):
    """The sensor_msgs/Image fields except the header; data: 1-D uint8, step * height bytes."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray


def image_to_rgb(encoding: str, height: int, width: int, step: int, is_bigendian: int,
                 data) -> np.ndarray:
    """Raw sensor_msgs/Image fields -> (height, width, 3) uint8 RGB (a new array).

    data: bytes-like (bytes, array.array('B'), uint8 ndarray) of at least
    step * (height - 1) + width * bytes-per-pixel bytes.
    """
    if encoding not in _CHANNELS:
        raise UnsupportedEncodingError(
            encoding, f"image encoding {encoding!r} is not supported; supported: "
                      f"{', '.join(SUPPORTED_ENCODINGS)}, or a JPEG/PNG CompressedImage")
    dtype = np.dtype(">u2" if is_bigendian else "<u2") if encoding == "mono16" else np.dtype(np.uint8)
    pixels = _pixel_view(data, height, width, step, _CHANNELS[encoding], dtype)
    if encoding in ("rgb8", "rgba8"):
        return pixels[:, :, :3].copy()  # a copy even when the view is contiguous: never alias `data`
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if encoding == "mono16":
        return np.repeat(stretch_to_uint8(pixels[:, :, 0])[:, :, None], 3, axis=2)
    import cv2

    if encoding in ("bgr8", "bgra8"):
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if encoding == "bgr8" else cv2.COLOR_BGRA2RGB)
    if encoding in _YUV_CODES:
        if width % 2:
            raise ImageDataError(f"{encoding} image width must be even, not {width}")
        return cv2.cvtColor(np.ascontiguousarray(pixels), getattr(cv2, _YUV_CODES[encoding]))
    return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), getattr(cv2, _BAYER_CODES[encoding]))


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """(H, W) uint16 -> uint8: round(value * 255 / max(brightest, 255))."""
    top = max(int(values.max(initial=0)), 255)
    return ((values.astype(np.uint32) * 255 + top // 2) // top).astype(np.uint8)


def is_bgr_ordered(encoding: str) -> bool:
    """True for blue-first encodings (bgr8, bgra8)."""
    return encoding in BGR_ENCODINGS


def decode_image(message) -> DecodedFrame:
    """A sensor_msgs/Image (or any object with its fields) -> DecodedFrame."""
    rgb = image_to_rgb(message.encoding, message.height, message.width, message.step,
                       message.is_bigendian, message.data)
    return DecodedFrame(rgb, is_bgr_ordered(message.encoding))


def decode_compressed(message) -> DecodedFrame:
    """A sensor_msgs/CompressedImage (fields `format`, `data`) holding JPEG or PNG -> DecodedFrame.

    `format` as image_transport writes it ('bgr8; jpeg compressed bgr8') only decides
    bgr_ordered (from its first word); the codec is recognised from the data.
    """
    buffer = np.frombuffer(message.data, dtype=np.uint8)
    if buffer.size == 0:
        raise ImageDataError("compressed image has no data")
    head = buffer[:8].tobytes()
    if not (head.startswith(_JPEG_SIGNATURE) or head.startswith(_PNG_SIGNATURE)):
        raise UnsupportedEncodingError(
            message.format or "compressed (no format)",
            f"compressed image format {message.format!r} is not JPEG or PNG "
            f"(compressedDepth and other codecs are not supported)")
    import cv2

    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDataError(f"cannot decode the {message.format or 'compressed'} image data")
    original_encoding = message.format.split(";")[0].strip() if ";" in message.format else ""
    return DecodedFrame(swap_red_blue(bgr), is_bgr_ordered(original_encoding))


def mono8_fields(image: np.ndarray) -> ImageFields:
    """(H, W) uint8 -> mono8 ImageFields."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"mono8 needs an (H, W) uint8 array, not {image.shape} {image.dtype}")
    height, width = image.shape
    return ImageFields(height, width, "mono8", 0, width, np.ascontiguousarray(image).reshape(-1))


def color_fields(rgb: np.ndarray, bgr_ordered: bool = False) -> ImageFields:
    """(H, W, 3) uint8 RGB -> rgb8 ImageFields, or bgr8 (channels swapped) when bgr_ordered."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"colour output needs an (H, W, 3) uint8 array, not {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    pixels = swap_red_blue(rgb) if bgr_ordered else np.ascontiguousarray(rgb)
    return ImageFields(height, width, "bgr8" if bgr_ordered else "rgb8", 0, width * 3, pixels.reshape(-1))


def swap_red_blue(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB <-> BGR, a new contiguous array (OpenCV: ~30x faster than numpy's copy)."""
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _pixel_view(data, height: int, width: int, step: int, channels: int,
                dtype: np.dtype) -> np.ndarray:
    """Zero-copy (height, width, channels) view of row-padded message data."""
    if height <= 0 or width <= 0:
        raise ImageDataError(f"image is empty: {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDataError(f"step {step} is shorter than a row of {width} pixels ({row_bytes} bytes)")
    buffer = np.frombuffer(data, dtype=np.uint8)
    needed = step * (height - 1) + row_bytes
    if buffer.size < needed:
        raise ImageDataError(f"data holds {buffer.size} bytes; a {width}x{height} image with step "
                             f"{step} needs {needed}")
    return np.ndarray((height, width, channels), dtype=dtype, buffer=buffer,
                      strides=(step, channels * dtype.itemsize, dtype.itemsize))


def byte_array(data: np.ndarray) -> array.array:
    """uint8 ndarray -> array.array('B'), the fast path of rclpy's uint8[] message field setter."""
    out = array.array("B")
    out.frombytes(data)
    return out
