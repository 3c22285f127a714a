"""The pixel budget and the header checks that keep decompression bombs from any decoder.

The hostile inputs are generated here (test/hostile_inputs.py); peak memory is measured in a
fresh subprocess with resource.getrusage, so the rest of the test run cannot hide it.
"""

import io
import json
import subprocess
import sys
import types

import cv2
import numpy as np
import pytest
from conftest import REPO
from hostile_inputs import (
    PNG_SIGNATURE,
    flat_png,
    jpeg_declaring,
    png_chunk,
    png_chunk_length_bomb,
)
from PIL import Image

from bodypix_ros.errors import ImageDataError, ImageTooLargeError
from bodypix_ros.ros.image_codec import compressed_header, decode_compressed, decode_image
from bodypix_ros.ros.rejects import reject_cause

PEAK_GROWTH_LIMIT_MIB = 64
"""Most a refused bomb may add to the peak RSS of a process (the budget's frame is 114 MiB)."""


def compressed(data: bytes, image_format: str = "png"):
    """A sensor_msgs/CompressedImage stand-in."""
    return types.SimpleNamespace(format=image_format, data=data)


def photo(width=96, height=64):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 3, columns * 2, rows + columns], axis=-1).astype(np.uint8)


def pil_bytes(image: np.ndarray, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, image_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("data,codec", [
    (pil_bytes(photo(), "JPEG"), "jpeg"),
    (pil_bytes(photo(), "JPEG", progressive=True), "jpeg"),
    (pil_bytes(photo()[:, :, 0], "JPEG"), "jpeg"),
    (pil_bytes(photo(), "PNG"), "png"),
    (cv2.imencode(".png", photo())[1].tobytes(), "png"),
    (cv2.imencode(".jpg", photo())[1].tobytes(), "jpeg"),
])
def test_headers_give_the_size_of_real_images(data, codec):
    assert compressed_header(data) == (codec, 96, 64)
    assert compressed_header(np.frombuffer(data, np.uint8)) == (codec, 96, 64)


def test_a_png_of_many_idat_chunks_passes_and_decodes():
    whole = pil_bytes(photo(), "PNG")
    header_end = len(PNG_SIGNATURE) + 25
    (length,) = np.frombuffer(whole[header_end:header_end + 4], ">u4")
    pixels = whole[header_end + 8:header_end + 8 + length]
    split = b"".join(png_chunk(b"IDAT", pixels[start:start + 100])
                     for start in range(0, len(pixels), 100))
    data = whole[:header_end] + split + png_chunk(b"IEND", b"")
    assert compressed_header(data) == ("png", 96, 64)
    np.testing.assert_array_equal(decode_compressed(compressed(data)).rgb, photo())


@pytest.mark.parametrize("data,reason", [
    (png_chunk_length_bomb(), "declares 4026531840 bytes"),
    (PNG_SIGNATURE + png_chunk(b"IDAT", b"x"), "not a 13-byte IHDR"),
    (flat_png(4, 4)[:-12], "ends before its IEND"),
    (flat_png(4, 4)[:33] + png_chunk(b"IEND", b""), "no image data"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xda",
     "no frame header"),
    (jpeg_declaring(8, 8)[:30], "truncated"),
    (jpeg_declaring(0, 8), "size of 0x8"),
])
def test_broken_structures_are_image_data_errors(data, reason):
    with pytest.raises(ImageDataError, match=reason):
        compressed_header(data)
    with pytest.raises(ImageDataError, match=reason):
        decode_compressed(compressed(data))


@pytest.mark.parametrize("data", [jpeg_declaring(8000, 8000), flat_png(16000, 16000)],
                         ids=["jpeg_8000x8000", "png_16000x16000"])
def test_bombs_over_the_default_budget_are_refused_as_too_large(data):
    assert len(data) < 40_000
    with pytest.raises(ImageTooLargeError, match="exceeds the pixel budget of 40000000") as caught:
        decode_compressed(compressed(data, "jpeg" if data[:2] == b"\xff\xd8" else "png"))
    assert reject_cause(caught.value) == "over the pixel budget"


def test_the_budget_is_inclusive_for_compressed_and_raw_frames():
    rgb = photo()
    png = compressed(cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes())
    np.testing.assert_array_equal(decode_compressed(png, max_pixels=96 * 64).rgb, rgb)
    with pytest.raises(ImageTooLargeError):
        decode_compressed(png, max_pixels=96 * 64 - 1)
    raw = types.SimpleNamespace(encoding="rgb8", height=64, width=96, step=96 * 3, is_bigendian=0,
                                data=rgb.tobytes())
    np.testing.assert_array_equal(decode_image(raw, max_pixels=96 * 64).rgb, rgb)
    with pytest.raises(ImageTooLargeError, match="'rgb8' image of 96x64"):
        decode_image(raw, max_pixels=96 * 64 - 1)


def test_a_raw_image_declaring_a_huge_size_is_refused_before_its_data_is_read():
    raw = types.SimpleNamespace(encoding="rgb8", height=100_000, width=100_000, step=300_000,
                                is_bigendian=0, data=b"")
    with pytest.raises(ImageTooLargeError, match="100000x100000"):
        decode_image(raw)


def test_garbage_announced_as_png_or_jpeg_is_bad_data_not_an_unknown_format():
    for image_format, codec in (("png", "PNG"), ("bgr8; jpeg compressed bgr8", "JPEG")):
        with pytest.raises(ImageDataError, match=f"not {codec} although its format"):
            decode_compressed(compressed(b"garbage" * 10, image_format))


def test_an_opencv_error_is_a_decode_error(monkeypatch):
    def failing_imdecode(buffer, flags):
        raise cv2.error("OpenCV(4.11.0) imdecode_: (-215:Assertion failed) size.height > 0")

    monkeypatch.setattr(cv2, "imdecode", failing_imdecode)
    with pytest.raises(ImageDataError, match="Assertion failed"):
        decode_compressed(compressed(flat_png(4, 4)))


PEAK_SCRIPT = """
import json, resource, sys, types
from pathlib import Path
from bodypix_ros.cli.common import read_image
from bodypix_ros.errors import DecodeError
from bodypix_ros.ros.image_codec import decode_compressed

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

read_image(Path(sys.argv[1]))  # warm up both decoders on a small valid image
decode_compressed(types.SimpleNamespace(format="png", data=Path(sys.argv[1]).read_bytes()))
for path in map(Path, sys.argv[2:]):
    for label, decode in (("node", lambda: decode_compressed(
            types.SimpleNamespace(format="png", data=path.read_bytes()))),
                          ("cli", lambda: read_image(path))):
        before = peak_mib()
        try:
            decode()
            outcome = "decoded"
        except DecodeError as error:
            outcome = type(error).__name__
        print(json.dumps([path.name, label, outcome, peak_mib() - before]), flush=True)
"""


def test_no_bomb_raises_the_peak_memory_of_a_fresh_process(tmp_path):
    """Without the header checks this takes 0.4 to 3.9 GB per bomb (see the issue 12 report)."""
    bombs = {"jpeg_8000x8000.jpg": jpeg_declaring(8000, 8000),
             "png_chunk_length_16_bytes.png": png_chunk_length_bomb(),
             "png_16000x16000.png": flat_png(16000, 16000),
             "png_13000x13000.png": flat_png(13000, 13000)}
    for name, data in bombs.items():
        (tmp_path / name).write_bytes(data)
    small = tmp_path / "small.png"
    small.write_bytes(cv2.imencode(".png", photo())[1].tobytes())
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(small),
                          *(str(tmp_path / name) for name in bombs)],
                         capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == 2 * len(bombs)
    for name, path_label, outcome, growth_mib in results:
        assert outcome in ("ImageTooLargeError", "ImageDataError"), (name, path_label, outcome)
        assert growth_mib < PEAK_GROWTH_LIMIT_MIB, (name, path_label, growth_mib)
