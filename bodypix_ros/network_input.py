"""The network input of a frame, as TFJS body-pix 2.2 `padAndResizeTo` builds it.

The frame is zero-padded to the input's aspect ratio and resized with TF1 `ResizeBilinear`
(align_corners=False, half_pixel_centers=False): input pixel (y, x) samples the padded frame
at (y * padded_h / H_in, x * padded_w / W_in), clamped at the last row and column.
"""

import numpy as np

from .geometry import InputGeometry

IMAGENET_MEAN = np.array([-123.15, -115.90, -103.06], dtype=np.float32)
"""Added to RGB values before ResNet50 (TFJS `resnet.ts`)."""


def resize_to_input(frame: np.ndarray, geometry: InputGeometry) -> np.ndarray:
    """(H, W, 3) uint8 frame -> (H_in, W_in, 3) float32, padded and resized as TF1 does.

    OpenCV computes it in float32 (about 1e-4 off TF's values; rounding to uint8 instead
    would move mask boundaries enough to cost 1 % IoU against TFJS).
    """
    import cv2

    frame = frame.astype(np.float32)
    pad = geometry.padding
    if any(pad):
        frame = cv2.copyMakeBorder(frame, pad.top, pad.bottom, pad.left, pad.right,
                                   cv2.BORDER_CONSTANT, value=(0, 0, 0))
    padded_h, padded_w = geometry.padded_size
    input_h, input_w = geometry.input_size
    input_to_padded = np.array([[padded_w / input_w, 0.0, 0.0], [0.0, padded_h / input_h, 0.0]])
    return cv2.warpAffine(frame, input_to_padded, (input_w, input_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


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
