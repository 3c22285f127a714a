"""Per-person instance masks: vectorized port of TFJS body-pix 2.2 `decodeMultipleMasksCPU`.

Every person pixel follows the long offsets of the face keypoints for `refine_steps`
steps (TFJS `getEmbedding`) and joins the pose whose confident face keypoints are
nearest on average (TFJS `matchEmbeddingToInstance` / `computeDistance`).

Deviation from TFJS: TFJS indexes the flattened offset grid without a lower bound, so
a walk leaving the grid above or left of it reads outside the array (NaN: the pixel is
left without owner) or wraps to the previous grid row. Here grid indices are clamped
to the grid, so such pixels are assigned like their neighbours.

Speed: the assignment is computed exactly on the corners of blocks of `block_size`
pixels; blocks whose four corners agree are filled, the others are computed per pixel.
"""

import math
from typing import NamedTuple, Optional

import numpy as np

from ..geometry import InputGeometry
from ..parts import KEYPOINT_NAMES

NUM_KEYPOINTS = len(KEYPOINT_NAMES)
MATCHED_KEYPOINTS = 5
"""TFJS matches pixels to poses on keypoints 0-4 only: nose, eyes, ears."""
BLOCKS_PER_CELL = 4
"""Default block side: a quarter of an output-grid cell, in frame pixels."""
NO_OWNER = -1


class _GridAxis(NamedTuple):
    """One axis of TFJS `convertToPositionInOuput`: frame pixel p -> grid index floor(p * scale + shift).

    scale = network-input pixels per frame pixel / stride; shift includes the padding and
    the + 0.5 of Math.round; limit is the position of the last frame pixel.
    """

    scale: float
    shift: float
    limit: float
    cells: int


def _grid_axis(frame_length: int, pad_before: int, pad_after: int, input_length: int,
               output_stride: int, cells: int) -> _GridAxis:
    scale = input_length / (frame_length + pad_before + pad_after)
    shift = ((pad_before + 1) * scale - 1) / output_stride + 0.5
    axis_scale = scale / output_stride
    return _GridAxis(axis_scale, shift, (frame_length - 1) * axis_scale + shift, cells)


class InstanceMatcher:
    """Assigns frame pixels to poses from one frame's long offsets.

    long_offsets: (grid_h, grid_w, 34) (y..., x...) in network-input pixels (not resized,
    as TFJS passes them); keypoints: (n, 17, 3) rows (x, y, score) of the kept poses in
    frame pixels, in TFJS order (ties in distance go to the earlier pose).
    """

    def __init__(self, long_offsets: np.ndarray, geometry: InputGeometry, keypoints: np.ndarray,
                 refine_steps: int, min_keypoint_score: float):
        height, width = geometry.frame_size
        pad = geometry.padding
        grid_h, grid_w = long_offsets.shape[:2]
        self.axes = (
            _grid_axis(height, pad.top, pad.bottom, geometry.input_size[0], geometry.output_stride, grid_h),
            _grid_axis(width, pad.left, pad.right, geometry.input_size[1], geometry.output_stride, grid_w),
        )
        self.refine_steps = refine_steps
        cell_size = geometry.output_stride * min(geometry.input_scale)  # frame pixels
        self.block_size = max(1, int(cell_size // BLOCKS_PER_CELL))
        # Offsets of the matched keypoints in grid units, flattened to (2, K * cells).
        face = np.stack([long_offsets[..., :MATCHED_KEYPOINTS],
                         long_offsets[..., NUM_KEYPOINTS:NUM_KEYPOINTS + MATCHED_KEYPOINTS]])
        face = face.reshape(2, grid_h * grid_w, MATCHED_KEYPOINTS).transpose(0, 2, 1)
        steps = np.array([axis.scale for axis in self.axes])[:, None, None]
        self.grid_steps = (face * steps).astype(np.float32).reshape(2, -1)
        self.keypoint_base = (np.arange(MATCHED_KEYPOINTS) * grid_h * grid_w)[:, None]
        face_keypoints = keypoints[:, :MATCHED_KEYPOINTS]
        self.used = (face_keypoints[..., 2] > min_keypoint_score).astype(np.float32)  # (n, K)
        self.used_count = self.used.sum(axis=1)
        self.pose_xy = face_keypoints[..., :2].astype(np.float32)

    def embed(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """TFJS `getEmbedding` for keypoints 0-4 of pixels (ys, xs) (m,) -> (2, K, m) float32 (y, x) frame px."""
        axis_y, axis_x = self.axes
        position = np.empty((2, MATCHED_KEYPOINTS, ys.size), dtype=np.float32)
        position[0] = ys * axis_y.scale + axis_y.shift
        position[1] = xs * axis_x.scale + axis_x.shift
        limit = np.array([axis_y.limit, axis_x.limit], dtype=np.float32)[:, None, None]
        for _ in range(self.refine_steps + 1):  # the first step starts at the pixel itself
            np.minimum(position, limit, out=position)
            cell = np.maximum(position, 0).astype(np.intp)  # floor(), clamped at 0 (deviation)
            flat = cell[0] * axis_x.cells + cell[1] + self.keypoint_base
            position += self.grid_steps[:, flat]
        scale = np.array([axis_y.scale, axis_x.scale], dtype=np.float32)[:, None, None]
        shift = np.array([axis_y.shift, axis_x.shift], dtype=np.float32)[:, None, None]
        return (position - shift) / scale

    def nearest_pose(self, embedding: np.ndarray) -> np.ndarray:
        """(2, K, m) embeddings -> (m,) index of the pose with the least mean squared distance
        over its face keypoints scoring > min_keypoint_score; NO_OWNER if no pose has one."""
        pose_count = self.pose_xy.shape[0]
        if pose_count == 0:
            return np.full(embedding.shape[2], NO_OWNER, dtype=np.intp)
        dy = embedding[0][None] - self.pose_xy[:, :, 1, None]  # (n, K, m)
        dx = embedding[1][None] - self.pose_xy[:, :, 0, None]
        total = np.einsum("nk,nkm->nm", self.used, dy * dy + dx * dx)
        usable = self.used_count > 0
        mean = np.full_like(total, np.inf)
        mean[usable] = total[usable] / self.used_count[usable, None]
        owner = np.argmin(mean, axis=0)
        owner[~np.isfinite(mean[owner, np.arange(owner.size)])] = NO_OWNER
        return owner

    def owners(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Pixels (ys, xs) (m,) -> (m,) owning pose index or NO_OWNER."""
        return self.nearest_pose(self.embed(ys, xs))


def assign_instances(person_mask: np.ndarray, matcher: InstanceMatcher, labels: np.ndarray,
                     block_size: Optional[int] = None) -> np.ndarray:
    """(H, W) bool person mask -> (H, W) uint8 image, labels[j] where pose j owns the pixel, else 0.

    labels: (n,) uint8 output id of each pose of `matcher`. block_size: side of the blocks
    whose corners are matched first (1 = every person pixel matched), default
    `matcher.block_size`.
    """
    height, width = person_mask.shape
    if labels.size == 0:
        return np.zeros((height, width), dtype=np.uint8)
    block_size = block_size or matcher.block_size
    lookup = np.concatenate([labels.astype(np.uint8), [0]])  # NO_OWNER (-1) -> 0
    blocks_y, blocks_x = math.ceil(height / block_size), math.ceil(width / block_size)
    padded = np.zeros((blocks_y * block_size, blocks_x * block_size), dtype=bool)
    padded[:height, :width] = person_mask
    occupied = padded.reshape(blocks_y, block_size, blocks_x, block_size).any(axis=(1, 3))

    # Match the corners of every occupied block.
    needed = np.zeros((blocks_y + 1, blocks_x + 1), dtype=bool)
    for dy in (0, 1):
        for dx in (0, 1):
            needed[dy:dy + blocks_y, dx:dx + blocks_x] |= occupied
    corner_row, corner_col = np.nonzero(needed)
    corner_owner = np.full(needed.shape, NO_OWNER, dtype=np.intp)  # unmatched: no occupied block
    corner_owner[corner_row, corner_col] = matcher.owners(
        np.minimum(corner_row * block_size, height - 1), np.minimum(corner_col * block_size, width - 1))

    top_left = corner_owner[:-1, :-1]
    uniform = ((top_left == corner_owner[:-1, 1:]) & (top_left == corner_owner[1:, :-1])
               & (top_left == corner_owner[1:, 1:]))
    block_labels = np.where(uniform & occupied, lookup[top_left], 0).astype(np.uint8)
    instances = np.repeat(np.repeat(block_labels, block_size, axis=0), block_size, axis=1)
    instances = instances[:height, :width] * person_mask

    # Match every person pixel of the blocks whose corners disagree.
    block_row, block_col = np.nonzero(occupied & ~uniform)
    offsets = np.arange(block_size)
    ys = (block_row[:, None, None] * block_size + offsets[None, :, None]).repeat(block_size, axis=2)
    xs = (block_col[:, None, None] * block_size + offsets[None, None, :]).repeat(block_size, axis=1)
    inside = (ys < height) & (xs < width)
    ys, xs = ys[inside], xs[inside]
    person = person_mask[ys, xs]
    ys, xs = ys[person], xs[person]
    instances[ys, xs] = lookup[matcher.owners(ys, xs)]
    return instances
