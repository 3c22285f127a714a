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

from bodypix_ros.geometry import InputGeometry, crop_box

UNDECIDED = 255
"""Code of a 2×2 block whose samples need exact interpolation."""
BLOCK_KERNEL = np.ones((2, 2), dtype=np.uint8)
"""A 2×2 block as an OpenCV structuring element (anchored at its top-left)."""


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
    """(rows, columns) sampling of the frame inside the padded network input, cached."""
    y1, x1, y2, x2 = crop_box(geometry)
    height, width = geometry.frame_size
    input_h, input_w = geometry.input_size
    return axis_sampling(y1, y2, input_h, height), axis_sampling(x1, x2, input_w, width)


def block_codes(person_scores: np.ndarray, threshold: float,
                part_argmax: Optional[np.ndarray] = None) -> np.ndarray:
    """(h, w) uint8 codes of each 2×2 block of source pixels (block (y, x) spans y..y+1, x..x+1).

    person_scores: (h, w) float32; part_argmax: (h, w) uint8 or None. 0 = all four at or below
    `threshold`; k + 1 = all four above it with argmax part k (1 without `part_argmax`);
    UNDECIDED otherwise. The last row/column repeat the edge.
    """
    person = (person_scores > threshold).view(np.uint8)
    all_person, any_person = block_min(person), block_max(person)
    if part_argmax is None:
        codes = all_person.copy()
    else:
        codes = (part_argmax + np.uint8(1)) * all_person
        all_person &= block_min(part_argmax) == block_max(part_argmax)
    codes[any_person > all_person] = UNDECIDED
    return codes


def block_min(values: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> (h, w) uint8 minimum over each 2×2 block (y..y+1, x..x+1; edges repeat)."""
    import cv2

    return cv2.erode(values, BLOCK_KERNEL, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)


def block_max(values: np.ndarray) -> np.ndarray:
    """(h, w) uint8 -> (h, w) uint8 maximum over each 2×2 block (y..y+1, x..x+1; edges repeat)."""
    import cv2

    return cv2.dilate(values, BLOCK_KERNEL, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)


class PixelCorners(NamedTuple):
    """The 2×2 source pixels and bilinear weights of N frame pixels.

    index: (4, N) int flat source-pixel indices (top-left, top-right, bottom-left,
    bottom-right); x_weight, y_weight: (N,) float32; inside: (N,) bool, False where TF
    extrapolates (value 0).
    """

    index: np.ndarray
    x_weight: np.ndarray
    y_weight: np.ndarray
    inside: np.ndarray

    def subset(self, selection: np.ndarray) -> "PixelCorners":
        """The corners of the pixels picked by `selection` (a boolean mask or indices over N)."""
        if selection.dtype == bool:
            selection = np.flatnonzero(selection)
        return PixelCorners(self.index.take(selection, axis=1), self.x_weight.take(selection),
                            self.y_weight.take(selection), self.inside.take(selection))


def pixel_corners(rows: AxisSampling, cols: AxisSampling, flat_pixels: np.ndarray,
                  frame_width: int, source_width: int) -> PixelCorners:
    """Corners of the frame pixels at flat indices `flat_pixels` in a (h, source_width) source."""
    ys, xs = np.divmod(flat_pixels, frame_width)
    top, bottom = rows.low.take(ys) * source_width, rows.high.take(ys) * source_width
    left, right = cols.low.take(xs), cols.high.take(xs)
    return PixelCorners(np.stack([top + left, top + right, bottom + left, bottom + right]),
                        cols.weight.take(xs), rows.weight.take(ys),
                        rows.inside.take(ys) & cols.inside.take(xs))


def interpolate(corner_values: np.ndarray, corners: PixelCorners) -> np.ndarray:
    """(4, ..., N) values at the four corners -> (..., N) bilinear samples, in TF's order of
    operations.
    """
    top_left, top_right, bottom_left, bottom_right = corner_values
    upper = top_left + (top_right - top_left) * corners.x_weight
    lower = bottom_left + (bottom_right - bottom_left) * corners.x_weight
    return np.where(corners.inside, upper + (lower - upper) * corners.y_weight, np.float32(0.0))


def sigmoid(values: np.ndarray) -> np.ndarray:
    """Logistic function, float32 in and out."""
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-values))


@lru_cache(maxsize=16)
def align_corners_sampling(source_size: int, output_size: int) -> AxisSampling:
    """Where TF1 `ResizeBilinear(align_corners=True)` samples along one axis, in float32 as TF
    does; cached (per frame size it never changes).
    """
    scale = (
        np.float32(source_size - 1) / np.float32(output_size - 1)
        if output_size > 1
        else np.float32(0.0)
    )
    positions = np.arange(output_size, dtype=np.float32) * scale
    floor = np.floor(positions)
    high = np.minimum(np.ceil(positions).astype(np.int32), source_size - 1)
    return AxisSampling(
        floor.astype(np.int32), high, positions - floor, np.ones(output_size, dtype=bool)
    )


def resized_values(
    grid: np.ndarray, input_size: Tuple[int, int], flat_pixels: np.ndarray
) -> np.ndarray:
    """Values of ResizeBilinear(grid, input_size, align_corners=True) at some of its pixels.

    grid: (h, w, C) float32; flat_pixels: (M,) flat indices into (H_in, W_in). Returns (C, M)
    float32 (channels first: cheap reductions over them), bit for bit what TF computes.
    """
    grid_h, grid_w, channels = grid.shape
    input_w = input_size[1]
    rows = align_corners_sampling(grid_h, input_size[0])
    cols = align_corners_sampling(grid_w, input_w)
    left, right = grid.take(cols.low, axis=1), grid.take(cols.high, axis=1)
    # (h * W_in, C): TF's first lerp
    across = (left + (right - left) * cols.weight[:, None]).reshape(-1, channels)
    ys, xs = np.divmod(flat_pixels, input_w)
    top = across.take(rows.low.take(ys) * input_w + xs, axis=0)
    bottom = across.take(rows.high.take(ys) * input_w + xs, axis=0)
    return np.ascontiguousarray((top + (bottom - top) * rows.weight.take(ys)[:, None]).T)


def best_parts(
    part_heatmaps: np.ndarray, part_argmax: np.ndarray, corners: PixelCorners
) -> np.ndarray:
    """Argmax part of the bilinear samples of sigmoid(part logits at input size) -> (N,) uint8 part
    ids.

    part_heatmaps: (h, w, 24) float32 network logits; part_argmax: (H_in, W_in) uint8 argmax of
    their ResizeBilinear to input size; corners: N frame pixels' corners in (H_in, W_in).
    Where all four corners share their argmax part, it wins (a convex combination keeps it
    ahead); elsewhere see `interpolated_best_parts`.
    """
    candidates = part_argmax.reshape(-1).take(corners.index)  # (4, N)
    chosen = candidates[0].copy()
    mixed = np.flatnonzero((candidates != candidates[0]).any(axis=0))
    if mixed.size:
        chosen[mixed] = interpolated_best_parts(
            part_heatmaps, part_argmax, corners.subset(mixed), candidates[:, mixed]
        )
    return chosen


def interpolated_best_parts(
    part_heatmaps: np.ndarray,
    part_argmax: np.ndarray,
    corners: PixelCorners,
    candidates: np.ndarray,
) -> np.ndarray:
    """`best_parts` of N pixels whose corners' argmax parts (candidates: (4, N) uint8) differ.

    Only the candidates are interpolated: any other part scores at most the interpolated corner
    runner-ups. Pixels that bound does not settle (rare) get all 24 parts interpolated.
    """
    channels = part_heatmaps.shape[-1]
    used, slot = used_sources(corners.index, part_argmax.size)
    scores = sigmoid(resized_values(part_heatmaps, part_argmax.shape, used))  # (24, M)
    values = scores.reshape(-1).take(
        candidates.astype(np.int32) * len(used) + slot[:, None, :]
    )  # (4, 4, N)
    candidate_scores = interpolate(values, corners)  # (4, N)
    best = candidate_scores.max(axis=0)
    chosen = np.where(candidate_scores == best, candidates, np.uint8(255)).min(
        axis=0
    )  # lowest id on ties
    runner_up = np.where(
        np.arange(channels)[:, None] == part_argmax.reshape(-1).take(used),
        np.float32(-1.0),
        scores,
    ).max(axis=0)  # (M,)
    unsure = np.flatnonzero(~(best > interpolate(runner_up.take(slot), corners)))
    if unsure.size:
        unsure_scores = np.moveaxis(scores.take(slot[:, unsure], axis=1), 1, 0)  # (4, 24, n)
        chosen[unsure] = np.argmax(interpolate(unsure_scores, corners.subset(unsure)), axis=0)
    return chosen


def used_sources(index: np.ndarray, source_count: int):
    """Distinct source indices in `index` -> (sorted (M,) indices, `index`-shaped positions in
    them).
    """
    used = np.zeros(source_count, dtype=bool)
    used[index] = True
    distinct = np.flatnonzero(used)
    position = np.empty(source_count, dtype=np.int32)
    position[distinct] = np.arange(len(distinct), dtype=np.int32)
    return distinct, position.take(index)


def frame_labels(geometry: InputGeometry, person_scores: np.ndarray, threshold: float,
                 part_heatmaps: Optional[np.ndarray] = None,
                 part_argmax: Optional[np.ndarray] = None) -> np.ndarray:
    """Frame-resolution labels from the network's outputs.

    person_scores: (H_in, W_in) float32 sigmoid person scores at network-input size;
    part_heatmaps: (h, w, 24) float32 network part logits and part_argmax: (H_in, W_in) uint8
    argmax of their resize to input size, or both None for a mask only.
    Returns (H, W) uint8: 0 = background, else k + 1 = part k (1 = person without parts).
    """
    rows, cols = frame_sampling(geometry)
    width = geometry.frame_size[1]
    codes = block_codes(person_scores, threshold, part_argmax)
    labels = codes[rows.low].take(cols.low, axis=1)  # C-contiguous, so reshape(-1) is a view
    flat_labels = labels.reshape(-1)
    undecided = np.flatnonzero(flat_labels == UNDECIDED)
    corners = pixel_corners(rows, cols, undecided, width, person_scores.shape[1])
    person = interpolate(person_scores.reshape(-1).take(corners.index), corners) > threshold
    if part_heatmaps is None:
        flat_labels[undecided] = person
    else:
        flat_labels[undecided] = 0
        person_pixels = undecided[person]
        flat_labels[person_pixels] = (
            best_parts(part_heatmaps, part_argmax, corners.subset(person)) + 1
        )
    labels[~rows.inside] = 0
    labels[:, ~cols.inside] = 0
    return labels
