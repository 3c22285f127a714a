"""How TFJS body-pix 2.2 maps a frame to the network input and back (`util.ts`).

Pure arithmetic; the TensorFlow ops that apply it live in `engine.py`.
"""

import math
from typing import NamedTuple, Tuple


class Padding(NamedTuple):
    """Rows/columns of zeros added around the frame before resizing, in frame pixels."""

    top: int
    bottom: int
    left: int
    right: int


class InputGeometry(NamedTuple):
    """Frame size, network input size and padding of one inference, all (height, width)."""

    frame_size: Tuple[int, int]
    input_size: Tuple[int, int]
    padding: Padding
    output_stride: int

    @property
    def padded_size(self) -> Tuple[int, int]:
        """Frame size plus padding, in frame pixels."""
        height, width = self.frame_size
        pad = self.padding
        return height + pad.top + pad.bottom, width + pad.left + pad.right

    @property
    def input_scale(self) -> Tuple[float, float]:
        """(y, x) frame pixels per network-input pixel (TFJS `scaleAndFlipPoses`)."""
        return tuple(padded / side for padded, side in zip(self.padded_size, self.input_size))


def valid_input_resolution(size: float, output_stride: int) -> int:
    """TFJS `toValidInputResolution`: the largest k * stride + 1 not above `size`, at least 1."""
    if (size - 1) % output_stride == 0:
        return int(size)
    return int(math.floor(size / output_stride) * output_stride + 1)


def input_geometry(
    frame_size: Tuple[int, int], fraction: float, output_stride: int
) -> InputGeometry:
    """TFJS `toInputResolutionHeightAndWidth` + the padding of `padAndResizeTo`."""
    height, width = frame_size
    target_h = valid_input_resolution(height * fraction, output_stride)
    target_w = valid_input_resolution(width * fraction, output_stride)
    target_aspect = target_w / target_h
    if width / height < target_aspect:
        pad = js_round(0.5 * (target_aspect * height - width))
        padding = Padding(0, 0, pad, pad)
    else:
        pad = js_round(0.5 * ((1.0 / target_aspect) * width - height))
        padding = Padding(pad, pad, 0, 0)
    return InputGeometry((height, width), (target_h, target_w), padding, output_stride)


def crop_box(geometry: InputGeometry) -> Tuple[float, float, float, float]:
    """Normalised (y1, x1, y2, x2) box of TFJS `removePaddingAndResizeBack`.

    An axis whose padded length is 1 pixel (a 1-pixel frame side, no padding) gets 0, 0:
    its network input is 1 pixel too, so every coordinate samples it (TFJS divides 0 by 0).
    """
    padded_h, padded_w = geometry.padded_size
    height, width = geometry.frame_size
    pad = geometry.padding
    return (
        _normalised(pad.top, padded_h),
        _normalised(pad.left, padded_w),
        _normalised(pad.top + height - 1.0, padded_h),
        _normalised(pad.left + width - 1.0, padded_w),
    )


def _normalised(position: float, length: int) -> float:
    """Pixel position along an axis of `length` pixels -> [0, 1] (0 on a 1-pixel axis)."""
    return position / (length - 1.0) if length > 1 else 0.0


def js_round(value: float) -> int:
    """JavaScript Math.round: halves round up (towards +inf)."""
    return math.floor(value + 0.5)
