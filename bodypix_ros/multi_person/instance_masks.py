"""Per-person instance masks: vectorized port of TFJS body-pix 2.2 `decodeMultipleMasksCPU`.

Every person pixel follows the long offsets of the face keypoints for `refine_steps`
steps (TFJS `getEmbedding`) and joins the pose whose confident face keypoints are
nearest on average (TFJS `matchEmbeddingToInstance` / `computeDistance`).

Deviation from TFJS: TFJS stops the walk at the last frame row/column but not at the
first, and indexes its flattened offset grid unchecked, so a walk leaving the grid at
the top or left reads outside the array (NaN: the pixel is left without owner) or wraps
to the previous grid row. Here the walk is also stopped at the grid's top/left edge, so
such pixels are assigned like their neighbours.

Speed: pixels are matched exactly on the corners of BLOCK_SIZE x BLOCK_SIZE blocks;
blocks whose four corners join the same pose are filled, the others are matched per pixel.
"""

from typing import NamedTuple

import numpy as np

from bodypix_ros.geometry import InputGeometry
from bodypix_ros.parts import NUM_KEYPOINTS

MATCHED_KEYPOINTS = 5
"""TFJS matches pixels to poses on keypoints 0-4 only: nose, eyes, ears."""
BLOCK_SIZE = 8
"""Block side in pixels; 8 makes one block row of a bool mask one uint64 word."""
NO_OWNER = -1


class _GridAxis(NamedTuple):
    """One axis of TFJS `convertToPositionInOuput` as grid index = floor(frame px * scale + shift).

    shift includes the padding and the + 0.5 of Math.round; limit is where the last
    frame pixel lies; cells is the grid's length on this axis.
    """

    scale: float
    shift: float
    limit: float
    cells: int


def _grid_axis(frame_length: int, pad_before: int, pad_after: int, input_length: int,
               output_stride: int, cells: int) -> _GridAxis:
    input_per_frame = input_length / (frame_length + pad_before + pad_after)  # TFJS getScale
    scale = input_per_frame / output_stride
    shift = ((pad_before + 1) * input_per_frame - 1) / output_stride + 0.5
    return _GridAxis(scale, shift, (frame_length - 1) * scale + shift, cells)


class InstanceMatcher:
    """Matches frame pixels to poses with one frame's long offsets.

    long_offsets: (grid_h, grid_w, 34) (y..., x...) in network-input pixels (not resized,
    as TFJS passes them); keypoints: (n, 17, 3) rows (x, y, score) of the kept poses in
    frame pixels, in TFJS order (an exact tie in distance goes to the earlier pose).
    """

    def __init__(self, long_offsets: np.ndarray, geometry: InputGeometry, keypoints: np.ndarray,
                 refine_steps: int, min_keypoint_score: float):
        height, width = geometry.frame_size
        pad = geometry.padding
        grid_h, grid_w = long_offsets.shape[:2]
        stride = geometry.output_stride
        self.axes = (
            _grid_axis(height, pad.top, pad.bottom, geometry.input_size[0], stride, grid_h),
            _grid_axis(width, pad.left, pad.right, geometry.input_size[1], stride, grid_w),
        )
        self.refine_steps = refine_steps
        # Long offsets of the matched keypoints in grid units as y + i x: (K * cells,) complex64.
        offset_y = long_offsets[..., :MATCHED_KEYPOINTS] * self.axes[0].scale
        offset_x = (
            long_offsets[..., NUM_KEYPOINTS : NUM_KEYPOINTS + MATCHED_KEYPOINTS]
            * self.axes[1].scale
        )
        steps = (offset_y + 1j * offset_x).astype(np.complex64)
        self.grid_steps = steps.reshape(-1, MATCHED_KEYPOINTS).T.ravel()
        keypoint_index = np.arange(MATCHED_KEYPOINTS, dtype=np.int32)[:, None]
        self.keypoint_base = keypoint_index * grid_h * grid_w
        # Poses with at least one face keypoint scoring > min_keypoint_score can own pixels.
        face = keypoints[:, :MATCHED_KEYPOINTS]
        used = face[..., 2] > min_keypoint_score
        self.candidates = np.flatnonzero(used.any(axis=1))
        used = used[self.candidates].astype(np.float64)  # (c, K)
        face = face[self.candidates]
        self.used_mean = used / used.sum(axis=1, keepdims=True)
        self.used_x = self.used_mean * face[..., 0]
        self.used_y = self.used_mean * face[..., 1]
        self.pose_norm = (self.used_mean * (face[..., 0] ** 2 + face[..., 1] ** 2)).sum(axis=1)

    def embed(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """TFJS `getEmbedding` of keypoints 0-4 for pixels (ys, xs), each (m,).

        Returns (2, K, m) float32: where each walk ends, (y, x) in frame pixels.
        """
        axis_y, axis_x = self.axes
        position = np.empty((2, MATCHED_KEYPOINTS, ys.size), dtype=np.float32)
        position[0] = ys * axis_y.scale + axis_y.shift
        position[1] = xs * axis_x.scale + axis_x.shift
        limit = np.array([axis_y.limit, axis_x.limit], dtype=np.float32)[:, None, None]
        for _ in range(self.refine_steps + 1):  # the first step reads the pixel's own cell
            np.clip(position, 0, limit, out=position)  # the lower bound is the deviation from TFJS
            cell = position.astype(np.int32)  # floor, as position >= 0
            flat = cell[0] * np.int32(axis_x.cells)
            flat += cell[1]
            flat += self.keypoint_base
            step = self.grid_steps.take(flat)
            position[0] += step.real
            position[1] += step.imag
        scale = np.array([axis_y.scale, axis_x.scale], dtype=np.float32)[:, None, None]
        shift = np.array([axis_y.shift, axis_x.shift], dtype=np.float32)[:, None, None]
        return (position - shift) / scale

    def nearest_pose(self, embedding: np.ndarray) -> np.ndarray:
        """(2, K, m) embeddings -> (m,) index of the pose whose face keypoints scoring
        > min_keypoint_score are nearest in mean squared distance; NO_OWNER if no pose has one.
        """
        if self.candidates.size == 0:
            return np.full(embedding.shape[2], NO_OWNER, dtype=np.intp)
        y, x = embedding.astype(np.float64)
        mean_distance = (
            self.used_mean @ (y * y + x * x)
            - 2.0 * (self.used_y @ y + self.used_x @ x)
            + self.pose_norm[:, None]
        )  # (c, m)
        return self.candidates[np.argmin(mean_distance, axis=0)]

    def owners(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Pixels (ys, xs), each (m,) -> (m,) owning pose index or NO_OWNER."""
        return self.nearest_pose(self.embed(ys, xs))


def occupied_blocks(person_mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (ceil(H / 8), ceil(W / 8)) bool: blocks holding at least one person pixel."""
    height, width = person_mask.shape
    blocks_y, blocks_x = -(-height // BLOCK_SIZE), -(-width // BLOCK_SIZE)
    words = np.zeros((blocks_y * BLOCK_SIZE, blocks_x * BLOCK_SIZE), dtype=bool)
    words[:height, :width] = person_mask
    row_runs = words.view(np.uint64) != 0  # (blocks_y * 8, blocks_x): one block row each
    return row_runs.reshape(blocks_y, BLOCK_SIZE, blocks_x).any(axis=1)


def assign_instances(
    person_mask: np.ndarray, matcher: InstanceMatcher, labels: np.ndarray
) -> np.ndarray:
    """(H, W) bool person mask -> (H, W) uint8 image: labels[j] where pose j owns the pixel, else
    0.

    labels: (n,) uint8 output id of each pose of `matcher`, in its order.
    """
    height, width = person_mask.shape
    if labels.size == 0:
        return np.zeros((height, width), dtype=np.uint8)
    lookup = np.append(labels.astype(np.uint8), np.uint8(0))  # NO_OWNER (-1) -> 0
    occupied = occupied_blocks(person_mask)
    blocks_y, blocks_x = occupied.shape

    # Match the corners of the occupied blocks.
    needed = np.zeros((blocks_y + 1, blocks_x + 1), dtype=bool)
    for dy in (0, 1):
        for dx in (0, 1):
            needed[dy : dy + blocks_y, dx : dx + blocks_x] |= occupied
    corner_row, corner_col = np.nonzero(needed)
    corner_owner = np.full(needed.shape, NO_OWNER, dtype=np.intp)
    corner_owner[corner_row, corner_col] = matcher.owners(
        np.minimum(corner_row * BLOCK_SIZE, height - 1),
        np.minimum(corner_col * BLOCK_SIZE, width - 1),
    )

    top_left = corner_owner[:-1, :-1]
    uniform = (
        (top_left == corner_owner[:-1, 1:])
        & (top_left == corner_owner[1:, :-1])
        & (top_left == corner_owner[1:, 1:])
    )
    block_labels = np.where(uniform, lookup[top_left], 0).astype(np.uint8)
    columns = block_labels.repeat(BLOCK_SIZE, axis=1)[:, :width]
    instances = columns.repeat(BLOCK_SIZE, axis=0)[:height]
    instances *= person_mask

    # Match every person pixel of the occupied blocks whose corners disagree.
    block_row, block_col = np.nonzero(occupied & ~uniform)
    within = np.arange(BLOCK_SIZE)
    ys = np.broadcast_to(
        block_row[:, None, None] * BLOCK_SIZE + within[:, None],
        (block_row.size, BLOCK_SIZE, BLOCK_SIZE),
    )
    xs = np.broadcast_to(
        block_col[:, None, None] * BLOCK_SIZE + within, (block_col.size, BLOCK_SIZE, BLOCK_SIZE)
    )
    inside = (ys < height) & (xs < width)
    ys, xs = ys[inside], xs[inside]
    person = person_mask[ys, xs]
    ys, xs = ys[person], xs[person]
    instances[ys, xs] = lookup[matcher.owners(ys, xs)]
    return instances
