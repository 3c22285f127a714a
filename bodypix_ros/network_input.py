"""The network input of a frame, as TFJS body-pix 2.2 `padAndResizeTo` builds it.

The frame is zero-padded to the input's aspect ratio and resized with TF1 `ResizeBilinear`
(align_corners=False, half_pixel_centers=False): input pixel (y, x) samples the padded frame
at (y * padded_h / H_in, x * padded_w / W_in), clamped at the last row and column.
"""

from functools import lru_cache
from typing import Tuple

import numpy as np

from .geometry import InputGeometry

IMAGENET_MEAN = np.array([-123.15, -115.90, -103.06], dtype=np.float32)
"""Added to RGB values before ResNet50 (TFJS `resnet.ts`)."""


def legacy_sampling(source_size: int, output_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF1 `ResizeBilinear` (align_corners=False, half_pixel_centers=False) along one axis:
    output i samples source i * source_size / output_size -> (low, high) (N,) indices and (N,)
    float32 weights of `high`, computed in float32 as TF does."""
    positions = np.arange(output_size, dtype=np.float32) * (np.float32(source_size) / np.float32(output_size))
    floor = np.floor(positions)
    high = np.minimum(np.ceil(positions).astype(np.intp), source_size - 1)
    return floor.astype(np.intp), high, positions - floor


@lru_cache(maxsize=8)
def input_sampling(geometry: InputGeometry):
    """How the network input samples the padded frame, cached per geometry: (top rows, bottom rows,
    row weights (H_in, W_padded, 3), left columns, right columns, column weights (H_in, W_in, 3)),
    the weights float32 and spread over every pixel for OpenCV's per-element arithmetic."""
    (padded_h, padded_w), (input_h, input_w) = geometry.padded_size, geometry.input_size
    top, bottom, row_weights = legacy_sampling(padded_h, input_h)
    left, right, col_weights = legacy_sampling(padded_w, input_w)
    return (top, bottom, np.repeat(np.repeat(row_weights[:, None, None], padded_w, 1), 3, 2),
            left, right, np.repeat(np.repeat(col_weights[None, :, None], input_h, 0), 3, 2))


def resize_to_input(frame: np.ndarray, geometry: InputGeometry) -> np.ndarray:
    """(H, W, 3) uint8 frame -> (H_in, W_in, 3) float32, zero-padded and resized as TF1 does.

    Rows are interpolated before columns (TF does columns first), which moves values by at
    most about 2e-5. OpenCV does the arithmetic (on both cores); its warpAffine is not used
    because OpenCV 4 steps sample positions by 1/32 pixel, a few levels off at edges.
    """
    import cv2

    pad = geometry.padding
    if any(pad):
        frame = cv2.copyMakeBorder(frame, pad.top, pad.bottom, pad.left, pad.right,
                                   cv2.BORDER_CONSTANT, value=(0, 0, 0))
    top_rows, bottom_rows, row_weights, left_cols, right_cols, col_weights = input_sampling(geometry)
    top = frame.take(top_rows, axis=0)
    step = cv2.subtract(frame.take(bottom_rows, axis=0), top, dtype=cv2.CV_32F)
    rows = cv2.add(cv2.multiply(step, row_weights), top, dtype=cv2.CV_32F)        # (H_in, W_padded, 3)
    left = rows.take(left_cols, axis=1)
    return cv2.add(cv2.multiply(cv2.subtract(rows.take(right_cols, axis=1), left), col_weights), left)


def network_input(frame: np.ndarray, geometry: InputGeometry, architecture: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame -> (1, H_in, W_in, 3) float32 batch, normalised for `architecture`:
    RGB / 127.5 - 1 for MobileNet, RGB + IMAGENET_MEAN for ResNet50."""
    pixels = resize_to_input(frame, geometry)
    if architecture == "resnet50":
        pixels += IMAGENET_MEAN
    else:
        pixels /= np.float32(127.5)
        pixels -= np.float32(1.0)
    return pixels[None]
