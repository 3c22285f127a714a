"""Network scores -> frame-resolution mask and part labels, as TFJS computes them, but cheaply.

TFJS samples every frame pixel bilinearly (`crop_and_resize`) from the sigmoid scores at
network-input resolution, then thresholds (mask) or takes the argmax over 24 channels
(parts). A bilinear sample is a convex combination of its 2×2 source neighbours, so where
all four neighbours agree — all above or all below the threshold, all with the same argmax
part — the sample agrees with them. Only the other pixels (the few on a boundary) are
interpolated exactly; the rest is one table lookup per pixel.
"""

from functools import lru_cache
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .geometry import InputGeometry, crop_box

UNDECIDED = 255
"""Code of a 2×2 block whose samples need exact interpolation."""


class AxisSampling(NamedTuple):
    """Where each output row (or column) samples the scores, exactly as TF `crop_and_resize`.

    low, high: (N,) int32 source indices (high = low or low + 1); weight: (N,) float32
    weight of `high`; inside: (N,) bool, False where TF extrapolates (value 0).
    """

    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray
    inside: np.ndarray


def axis_sampling(start: float, end: float, source_size: int, output_size: int) -> AxisSampling:
    """TF `crop_and_resize` sample positions along one axis, in float32 as TF computes them."""
    start, end = np.float32(start), np.float32(end)
    last = np.float32(source_size - 1)
    if output_size > 1:
        scale = (end - start) * last / np.float32(output_size - 1)
        positions = start * last + np.arange(output_size, dtype=np.float32) * scale
    else:
        positions = np.full(1, np.float32(0.5) * (start + end) * last, dtype=np.float32)
    inside = (positions >= 0) & (positions <= last)
    clipped = np.clip(positions, 0, last)
    low = np.floor(clipped).astype(np.int32)
    high = np.ceil(clipped).astype(np.int32)
    return AxisSampling(low, high, (clipped - low).astype(np.float32), inside)


@lru_cache(maxsize=16)
def frame_sampling(geometry: InputGeometry) -> Tuple[AxisSampling, AxisSampling]:
    """(rows, columns) sampling of the frame inside the padded network input; cached per geometry."""
    y1, x1, y2, x2 = crop_box(geometry)
    height, width = geometry.frame_size
    input_h, input_w = geometry.input_size
    return axis_sampling(y1, y2, input_h, height), axis_sampling(x1, x2, input_w, width)


def block_codes(person_scores: np.ndarray, threshold: float,
                part_argmax: Optional[np.ndarray] = None) -> np.ndarray:
    """(h, w) codes of each 2×2 block of source pixels (block (y, x) spans y..y+1, x..x+1).

    0 = all four at or below `threshold`; k + 1 = all four above it with argmax part k
    (1 without `part_argmax`); UNDECIDED otherwise. The last row/column repeat the edge.
    """
    person = person_scores > threshold
    person = np.pad(person, ((0, 1), (0, 1)), mode="edge")
    corners = (person[:-1, :-1], person[1:, :-1], person[:-1, 1:], person[1:, 1:])
    all_person = corners[0] & corners[1] & corners[2] & corners[3]
    any_person = corners[0] | corners[1] | corners[2] | corners[3]
    if part_argmax is None:
        codes = all_person.astype(np.uint8)
    else:
        parts = np.pad(part_argmax.astype(np.uint8), ((0, 1), (0, 1)), mode="edge")
        same_part = ((parts[:-1, :-1] == parts[1:, :-1]) & (parts[:-1, :-1] == parts[:-1, 1:])
                     & (parts[:-1, :-1] == parts[1:, 1:]))
        codes = np.where(all_person, parts[:-1, :-1] + 1, 0).astype(np.uint8)
        all_person &= same_part
    codes[any_person & ~all_person] = UNDECIDED
    return codes


def sample_exactly(scores: np.ndarray, rows: AxisSampling, cols: AxisSampling,
                   flat_pixels: np.ndarray, frame_width: int, activation=None) -> np.ndarray:
    """Bilinear samples of (h, w, C) `scores` at flat frame pixel indices -> (N, C) float32.

    Same order of operations as TF `crop_and_resize`; `activation` (e.g. sigmoid) is applied
    to the source values first, only to the ones sampled.
    """
    ys, xs = np.divmod(flat_pixels, frame_width)
    source = scores.reshape(-1, scores.shape[-1])
    width = scores.shape[1]
    top, bottom = rows.low[ys] * width, rows.high[ys] * width
    left, right = cols.low[xs], cols.high[xs]
    corners = np.stack([top + left, top + right, bottom + left, bottom + right])
    used = np.zeros(len(source), dtype=bool)
    used[corners] = True
    needed = np.flatnonzero(used)
    slot = np.empty(len(source), dtype=np.int32)
    slot[needed] = np.arange(len(needed), dtype=np.int32)
    values = source[needed]
    if activation is not None:
        values = activation(values)
    top_left, top_right, bottom_left, bottom_right = values[slot[corners]]
    x_weight, y_weight = cols.weight[xs][:, None], rows.weight[ys][:, None]
    upper = top_left + (top_right - top_left) * x_weight
    lower = bottom_left + (bottom_right - bottom_left) * x_weight
    samples = upper + (lower - upper) * y_weight
    samples[~(rows.inside[ys] & cols.inside[xs])] = 0.0
    return samples


def sigmoid(values: np.ndarray) -> np.ndarray:
    """Logistic function, float32 in and out."""
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-values))


def frame_labels(geometry: InputGeometry, person_scores: np.ndarray, threshold: float,
                 part_logits: Optional[np.ndarray] = None,
                 part_argmax: Optional[np.ndarray] = None) -> np.ndarray:
    """Frame-resolution labels from network outputs scaled to network-input resolution.

    person_scores: (h, w) float32 sigmoid person scores; part_logits: (h, w, 24) float32
    part logits and part_argmax: (h, w) their argmax, or both None for a mask only.
    Returns (H, W) uint8: 0 = background, else k + 1 = part k (1 = person without parts).
    """
    rows, cols = frame_sampling(geometry)
    width = geometry.frame_size[1]
    codes = block_codes(person_scores, threshold, part_argmax)
    labels = codes[rows.low].take(cols.low, axis=1)  # C-contiguous, so reshape(-1) is a view
    flat_labels = labels.reshape(-1)
    undecided = np.flatnonzero(flat_labels == UNDECIDED)
    person = sample_exactly(person_scores[:, :, None], rows, cols, undecided, width)[:, 0] > threshold
    if part_logits is None:
        flat_labels[undecided] = person
    else:
        flat_labels[undecided] = 0
        person_pixels = undecided[person]
        parts = sample_exactly(part_logits, rows, cols, person_pixels, width, sigmoid)
        flat_labels[person_pixels] = np.argmax(parts, axis=1).astype(np.uint8) + 1
    labels[~rows.inside] = 0
    labels[:, ~cols.inside] = 0
    return labels
