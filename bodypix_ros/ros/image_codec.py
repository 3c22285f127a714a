"""sensor_msgs Image / CompressedImage fields <-> numpy arrays, without ROS.

The node and any ROS-free tool (e.g. one reading bags with `rosbags`) share this
one conversion path; it works on any object with the message's fields.
Input: every encoding in `SUPPORTED_ENCODINGS` -> (H, W, 3) uint8 RGB, honouring
`step` (row padding) and `is_bigendian`. mono16 becomes 8-bit by a linear
per-frame stretch: value * 255 / max(brightest pixel, 255), so 8-bit data stored
in 16 bits passes unchanged and 10/12/16-bit data uses the full 8-bit range.
Compressed: JPEG and PNG (recognised by their signature, whatever `format` says).
Pixel budget: a frame whose width x height exceeds `max_pixels` is refused with
ImageTooLargeError before anything is converted; for JPEG and PNG the size (and the PNG
chunk structure) is read from the headers, so a decompression bomb never reaches OpenCV.
OpenCV is imported lazily, only for YUV, Bayer and compressed input.

Back (`reencode_image`, `reencode_compressed`, for the anonymized output): a processed frame in
its input message's own encoding. A raw image keeps its encoding, size, step, endianness and row
padding, and every pixel the processing left unchanged keeps its original bytes; only changed
pixels are encoded anew (yuv422 by pixel pairs, which share chroma). A compressed image is
re-encoded whole in its own codec (JPEG at `JPEG_QUALITY`, or PNG).
"""

import array
import struct
from typing import NamedTuple, Optional

import numpy as np

from bodypix_ros.errors import ImageDataError, ImageTooLargeError, UnsupportedEncodingError
from bodypix_ros.ros.rejects import shorten

RGB_ENCODINGS = ("rgb8", "rgba8")
BGR_ENCODINGS = ("bgr8", "bgra8")
YUV_ENCODINGS = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")
BAYER_ENCODINGS = ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8")
SUPPORTED_ENCODINGS = (
    RGB_ENCODINGS + BGR_ENCODINGS + ("mono8", "mono16") + YUV_ENCODINGS + BAYER_ENCODINGS
)

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
_PNG_MAX_LENGTH = (1 << 31) - 1
"""Largest chunk length, width or height a PNG may declare."""
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Frame header markers (SOF0-SOF15 without DHT, JPG and DAC)."""
_JPEG_STANDALONE_MARKERS = frozenset([0x01, 0xD8, *range(0xD0, 0xD8)])
"""Markers without a length field (TEM, SOI, RST0-RST7)."""

DEFAULT_MAX_INPUT_PIXELS = 40_000_000
"""Default pixel budget: 40 megapixels, above common cameras (8K UHD is 33.2 MP)."""
MAX_INPUT_PIXELS_RANGE = (1, 1 << 30)
"""Valid pixel budgets; 2^30 is OpenCV's own decoding limit."""


class CompressedHeader(NamedTuple):
    """What a JPEG or PNG header declares: codec ('jpeg' or 'png'), width and height in pixels."""

    codec: str
    width: int
    height: int


class DecodedFrame(NamedTuple):
    """rgb: (H, W, 3) uint8 RGB; bgr_ordered: the source was blue-first (overlay goes out as
    bgr8).
    """

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
            encoding, f"image encoding {shorten(encoding)!r} is not supported; supported: "
                      f"{', '.join(SUPPORTED_ENCODINGS)}, or a JPEG/PNG CompressedImage")
    dtype = (
        np.dtype(">u2" if is_bigendian else "<u2") if encoding == "mono16" else np.dtype(np.uint8)
    )
    pixels = _pixel_view(data, height, width, step, _CHANNELS[encoding], dtype)
    if encoding in ("rgb8", "rgba8"):
        # a copy even when the view is contiguous: never alias `data`
        return pixels[:, :, :3].copy()
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if encoding == "mono16":
        return np.repeat(stretch_to_uint8(pixels[:, :, 0])[:, :, None], 3, axis=2)
    import cv2

    if encoding in ("bgr8", "bgra8"):
        return cv2.cvtColor(
            pixels, cv2.COLOR_BGR2RGB if encoding == "bgr8" else cv2.COLOR_BGRA2RGB
        )
    if encoding in _YUV_CODES:
        if width % 2:
            raise ImageDataError(f"{encoding} image width must be even, not {width}")
        return cv2.cvtColor(np.ascontiguousarray(pixels), getattr(cv2, _YUV_CODES[encoding]))
    return cv2.cvtColor(
        np.ascontiguousarray(pixels[:, :, 0]), getattr(cv2, _BAYER_CODES[encoding])
    )


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """(H, W) uint16 -> uint8: round(value * 255 / max(brightest, 255))."""
    top = max(int(values.max(initial=0)), 255)
    return ((values.astype(np.uint32) * 255 + top // 2) // top).astype(np.uint8)


def is_bgr_ordered(encoding: str) -> bool:
    """True for blue-first encodings (bgr8, bgra8)."""
    return encoding in BGR_ENCODINGS


def check_pixel_budget(width: int, height: int, max_pixels: int, what: str = "image") -> None:
    """ImageTooLargeError when width * height exceeds max_pixels (the max_input_pixels budget)."""
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{what} of {width}x{height} pixels ({width * height / 1e6:.1f} MP) exceeds the pixel "
            f"budget of {max_pixels} ({max_pixels / 1e6:.1f} MP); raise the budget "
            f"(max_input_pixels, --max-input-pixels) to accept it")


def decode_image(message, max_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> DecodedFrame:
    """A sensor_msgs/Image (or any object with its fields) -> DecodedFrame.

    ImageTooLargeError when width * height exceeds `max_pixels`, before any conversion.
    """
    check_pixel_budget(message.width, message.height, max_pixels,
                       f"{shorten(message.encoding)!r} image")
    rgb = image_to_rgb(message.encoding, message.height, message.width, message.step,
                       message.is_bigendian, message.data)
    return DecodedFrame(rgb, is_bgr_ordered(message.encoding))


def decode_compressed(message, max_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> DecodedFrame:
    """A sensor_msgs/CompressedImage (fields `format`, `data`) holding JPEG or PNG -> DecodedFrame.

    `format` as image_transport writes it ('bgr8; jpeg compressed bgr8') only decides
    bgr_ordered (from its first word); the codec is recognised from the data. The declared
    size is checked against `max_pixels` before decoding (ImageTooLargeError); a broken
    header or chunk structure, or data OpenCV cannot decode, raise ImageDataError.
    """
    buffer = np.frombuffer(message.data, dtype=np.uint8)
    if buffer.size == 0:
        raise ImageDataError("compressed image has no data")
    header = compressed_header(buffer)
    if header is None:
        declared = declared_codec(message.format)
        if declared:
            raise ImageDataError(
                f"compressed image data is not {declared} although its format "
                f"{shorten(message.format)!r} says so: the {declared} signature is missing")
        raise UnsupportedEncodingError(
            message.format or "compressed (no format)",
            f"compressed image format {shorten(message.format)!r} is not JPEG or PNG "
            f"(compressedDepth and other codecs are not supported)")
    check_pixel_budget(header.width, header.height, max_pixels, header.codec.upper())
    import cv2

    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise ImageDataError(f"cannot decode the {header.codec.upper()} data: "
                             f"{' '.join(str(error).split())}") from None
    if bgr is None:
        raise ImageDataError(
            f"cannot decode the {header.codec.upper()} data (corrupt or truncated)")
    original_encoding = message.format.split(";")[0].strip() if ";" in message.format else ""
    return DecodedFrame(swap_red_blue(bgr), is_bgr_ordered(original_encoding))


def declared_codec(compressed_format: str) -> str:
    """'JPEG' or 'PNG' when a CompressedImage format string names that codec, else ''.

    '' also for compressedDepth, whose data has a header of its own before the PNG.
    """
    words = compressed_format.lower().replace(";", " ").split()
    if "compresseddepth" in words:
        return ""
    if "png" in words:
        return "PNG"
    return "JPEG" if "jpeg" in words or "jpg" in words else ""


def compressed_header(data) -> Optional[CompressedHeader]:
    """Codec and declared size of JPEG or PNG data (bytes-like) from its headers, or None.

    Decodes nothing; None when the data starts with neither signature.

    ImageDataError for a broken structure: a PNG must be a sequence of complete chunks
    from a valid IHDR to IEND with IDAT among them; a JPEG must have a frame header (SOF)
    with a non-zero size among complete segments before its scan.
    """
    view = memoryview(data).cast("B")
    if bytes(view[:8]) == _PNG_SIGNATURE:
        return _png_header(view)
    if bytes(view[:3]) == _JPEG_SIGNATURE:
        return _jpeg_header(view)
    return None


def _png_header(view: memoryview) -> CompressedHeader:
    offset, header, has_data = len(_PNG_SIGNATURE), None, False
    while True:
        if offset + 8 > len(view):
            raise ImageDataError("PNG data ends before its IEND chunk (truncated)")
        length, kind = struct.unpack_from(">I4s", view, offset)
        name = kind.decode("latin-1")
        if length > _PNG_MAX_LENGTH or offset + 12 + length > len(view):
            raise ImageDataError(
                f"PNG chunk {name!r} at byte {offset} declares {length} bytes but only "
                f"{max(len(view) - offset - 12, 0)} follow (corrupt or truncated)")
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise ImageDataError(f"PNG starts with chunk {name!r} of {length} bytes, "
                                     f"not a 13-byte IHDR")
            width, height = struct.unpack_from(">II", view, offset + 8)
            if not (0 < width <= _PNG_MAX_LENGTH and 0 < height <= _PNG_MAX_LENGTH):
                raise ImageDataError(f"PNG declares an invalid size {width}x{height}")
            header = CompressedHeader("png", width, height)
        elif kind == b"IEND":
            if not has_data:
                raise ImageDataError("PNG has no image data (IDAT chunk)")
            return header
        has_data = has_data or kind == b"IDAT"
        offset += 12 + length


def _jpeg_header(view: memoryview) -> CompressedHeader:
    offset = 2
    while offset < len(view):
        if view[offset] != 0xFF:
            raise ImageDataError(f"JPEG has no marker at byte {offset} (corrupt)")
        while offset < len(view) and view[offset] == 0xFF:  # fill bytes
            offset += 1
        if offset >= len(view):
            break
        marker = view[offset]
        offset += 1
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            break
        if offset + 2 > len(view):
            break
        (length,) = struct.unpack_from(">H", view, offset)
        if length < 2 or offset + length > len(view):
            raise ImageDataError(f"JPEG segment 0xFF{marker:02X} at byte {offset - 2} declares "
                                 f"{length} bytes; only {len(view) - offset} follow (truncated)")
        if marker in _JPEG_SOF_MARKERS:
            if length < 8:
                raise ImageDataError(f"JPEG frame header of {length} bytes is too short")
            height, width = struct.unpack_from(">HH", view, offset + 3)
            if not (width and height):
                raise ImageDataError(f"JPEG declares a size of {width}x{height} "
                                     f"(a height set by a DNL marker is not supported)")
            return CompressedHeader("jpeg", width, height)
        offset += length
    raise ImageDataError("JPEG has no frame header (SOF) before its image data")


def mono8_fields(image: np.ndarray) -> ImageFields:
    """(H, W) uint8 -> mono8 ImageFields."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"mono8 needs an (H, W) uint8 array, not {image.shape} {image.dtype}")
    height, width = image.shape
    return ImageFields(height, width, "mono8", 0, width, np.ascontiguousarray(image).reshape(-1))


def color_fields(rgb: np.ndarray, bgr_ordered: bool = False) -> ImageFields:
    """(H, W, 3) uint8 RGB -> rgb8 ImageFields, or bgr8 (channels swapped) when bgr_ordered."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"colour output needs an (H, W, 3) uint8 array, not {rgb.shape} {rgb.dtype}"
        )
    height, width = rgb.shape[:2]
    pixels = swap_red_blue(rgb) if bgr_ordered else np.ascontiguousarray(rgb)
    return ImageFields(
        height, width, "bgr8" if bgr_ordered else "rgb8", 0, width * 3, pixels.reshape(-1)
    )


def swap_red_blue(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB <-> BGR, a new contiguous array (OpenCV: ~30x faster than numpy's
    copy).
    """
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _pixel_view(data, height: int, width: int, step: int, channels: int,
                dtype: np.dtype) -> np.ndarray:
    """Zero-copy (height, width, channels) view of row-padded message data."""
    if height <= 0 or width <= 0:
        raise ImageDataError(f"image is empty: {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDataError(
            f"step {step} is shorter than a row of {width} pixels ({row_bytes} bytes)"
        )
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


JPEG_QUALITY = 90
"""OpenCV JPEG quality (0-100) of re-encoded compressed images."""
_BAYER_CHANNEL_ORDER = {name: name[len("bayer_"):len("bayer_") + 4] for name in _BAYER_CODES}
"""Bayer encoding -> colours of its top-left 2x2 cell, row major ('rggb')."""


def reencode_image(message, original_rgb: np.ndarray, new_rgb: np.ndarray) -> ImageFields:
    """`new_rgb` in the encoding of the raw sensor_msgs/Image `message` it was decoded from.

    original_rgb, new_rgb: (H, W, 3) uint8, the message decoded and its processed version.
    Returns fields with the message's height, width, encoding, is_bigendian and step; the bytes
    of pixels where new_rgb equals original_rgb are the message's own.
    """
    encoding, height, width, step = message.encoding, message.height, message.width, message.step
    data = np.frombuffer(message.data, dtype=np.uint8)[:step * height].copy()
    if data.size < step * height:  # the last row may lack its padding
        data = np.concatenate([data, np.zeros(step * height - data.size, np.uint8)])
    dtype = np.dtype(np.uint8)
    if encoding == "mono16":
        dtype = np.dtype(">u2" if message.is_bigendian else "<u2")
    pixels = _pixel_view(data, height, width, step, _CHANNELS[encoding], dtype)
    changed = (new_rgb != original_rgb).any(axis=2)
    if encoding in _YUV_CODES:
        changed[:, 0::2] |= changed[:, 1::2]
        changed[:, 1::2] = changed[:, 0::2]
    pixels[changed] = _encoded_pixels(encoding, pixels, new_rgb)[changed]
    return ImageFields(height, width, encoding, message.is_bigendian, step, data)


def _encoded_pixels(encoding: str, pixels: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, C) array in `encoding`.

    pixels: the original (H, W, C) pixels, for the alpha channel and the mono16 scale.
    """
    import cv2

    if encoding in ("rgb8", "bgr8"):
        return rgb if encoding == "rgb8" else rgb[:, :, ::-1]
    if encoding in ("rgba8", "bgra8"):
        color = rgb if encoding == "rgba8" else rgb[:, :, ::-1]
        return np.concatenate([color, pixels[:, :, 3:]], axis=2)
    if encoding in ("mono8", "mono16"):
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)[:, :, None]
        if encoding == "mono8":
            return gray
        top = max(int(pixels.max(initial=0)), 255)  # the decode's stretch, inverted
        return np.rint(gray.astype(np.float64) * top / 255.0).astype(pixels.dtype)
    if encoding in _YUV_CODES:
        return rgb_to_yuv422(rgb, uyvy=_YUV_CODES[encoding].endswith("UYVY"))
    mosaic = np.empty(rgb.shape[:2] + (1,), np.uint8)
    channel = {"r": 0, "g": 1, "b": 2}
    for index, colour in enumerate(_BAYER_CHANNEL_ORDER[encoding]):
        row, col = divmod(index, 2)
        mosaic[row::2, col::2, 0] = rgb[row::2, col::2, channel[colour]]
    return mosaic


_BT601_RGB_TO_YUV = np.array([[65.481, 128.553, 24.966],
                              [-37.797, -74.203, 112.0],
                              [112.0, -93.786, -18.214]]) / 255.0
"""ITU-R BT.601 limited range: (Y - 16, U - 128, V - 128) = this @ (R, G, B), the inverse of
the conversion OpenCV decodes YUV422 with."""


def rgb_to_yuv422(rgb: np.ndarray, uyvy: bool) -> np.ndarray:
    """(H, W, 3) uint8 RGB, W even -> (H, W, 2) uint8 YUV 4:2:2 (BT.601 limited range), each
    pixel pair sharing the mean chroma of its two pixels.

    uyvy: byte order U0 Y0 V0 Y1 (ROS yuv422 / uyvy), else Y0 U0 Y1 V0 (yuv422_yuy2 / yuyv).
    In numpy, because OpenCV's RGB -> YUV422 codes are newer than the OpenCV ROS ships.
    """
    yuv = rgb.astype(np.float64) @ _BT601_RGB_TO_YUV.T + (16.0, 128.0, 128.0)
    luma = yuv[:, :, 0]
    chroma = (yuv[:, 0::2, 1:] + yuv[:, 1::2, 1:]) / 2.0  # (H, W / 2, 2): U, V per pair
    chroma_bytes = chroma.reshape(rgb.shape[0], -1)  # U0 V0 U1 V1 ...: one per pixel
    planes = [chroma_bytes, luma] if uyvy else [luma, chroma_bytes]
    pairs = np.stack(planes, axis=2)
    return np.clip(np.rint(pairs), 0, 255).astype(np.uint8)


def reencode_compressed(message, new_rgb: np.ndarray) -> bytes:
    """`new_rgb` (H, W, 3) uint8 in the codec of the CompressedImage `message` -> `data` bytes.

    PNG stays PNG, anything else becomes JPEG at JPEG_QUALITY; `format` stays as it is.
    """
    import cv2

    png = bytes(message.data[:8]) == _PNG_SIGNATURE
    bgr = swap_red_blue(np.ascontiguousarray(new_rgb))
    params = [] if png else [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    ok, encoded = cv2.imencode(".png" if png else ".jpg", bgr, params)
    if not ok:
        raise ValueError("OpenCV could not encode the anonymized image")
    return encoded.tobytes()
