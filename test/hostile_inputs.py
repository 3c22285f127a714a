"""Hostile inputs generated in the test: decompression bombs, corrupt chunk structures.

Every function returns the file's bytes; none needs more than a few MB to build one.
"""

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def jpeg_declaring(width: int, height: int) -> bytes:
    """A baseline JPEG of an 8x8 black image (631 bytes) whose SOF0 header says width x height."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)  # marker, length, precision, then H, W
    return bytes(data)


def png_chunk_length_bomb() -> bytes:
    """16 bytes: the PNG signature, a chunk length of 0xF0000000 and the type IHDR; no more."""
    return PNG_SIGNATURE + struct.pack(">I", 0xF0000000) + b"IHDR"


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC-32 of type + payload."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def flat_png(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale black PNG of width x height, compressed row by row (16000 x 16000:
    about 31 KB; the raw 1-bit rows never exist in memory at once)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grayscale
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    pixels = b"".join(parts) + compressor.flush()
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels)
            + png_chunk(b"IEND", b""))
