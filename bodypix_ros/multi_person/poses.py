"""Multi-person pose decoding: port of TFJS body-pix 2.2 `decodeMultiplePoses` +
`scaleAndFlipPoses`.

Poses are (n, 17, 3) float64 arrays of rows (x, y, score) in `parts.KEYPOINT_NAMES`
order; positions are in network-input pixels until `scale_poses` maps them to the frame.
"""

from typing import List, Tuple

import numpy as np

from bodypix_ros.geometry import InputGeometry, js_round
from bodypix_ros.multi_person.candidates import max_heap_order, root_candidates
from bodypix_ros.parts import KEYPOINT_NAMES, NUM_KEYPOINTS
from bodypix_ros.result import NetworkOutputs

KEYPOINT_IDS = {name: index for index, name in enumerate(KEYPOINT_NAMES)}

POSE_CHAIN = (
    ("nose", "leftEye"), ("leftEye", "leftEar"), ("nose", "rightEye"), ("rightEye", "rightEar"),
    ("nose", "leftShoulder"), ("leftShoulder", "leftElbow"), ("leftElbow", "leftWrist"),
    ("leftShoulder", "leftHip"), ("leftHip", "leftKnee"), ("leftKnee", "leftAnkle"),
    ("nose", "rightShoulder"), ("rightShoulder", "rightElbow"), ("rightElbow", "rightWrist"),
    ("rightShoulder", "rightHip"), ("rightHip", "rightKnee"), ("rightKnee", "rightAnkle"),
)
"""TFJS `poseChain`: (parent, child) keypoint names; edge e is displacement channel e."""

EDGES = tuple((KEYPOINT_IDS[parent], KEYPOINT_IDS[child]) for parent, child in POSE_CHAIN)
OFFSET_REFINE_STEPS = 2
"""TFJS `traverseToTargetKeypoint` offsetRefineStep."""


class _PoseDecoder:
    """Reads one frame's (h, w, C) float32 grid outputs as Python floats, as TFJS's doubles."""

    def __init__(self, outputs: NetworkOutputs, output_stride: int):
        self.scores = outputs.heatmaps
        self.offsets = outputs.short_offsets
        self.displacement_fwd = outputs.displacement_fwd
        self.displacement_bwd = outputs.displacement_bwd
        self.stride = output_stride
        self.last_row, self.last_column = self.scores.shape[0] - 1, self.scores.shape[1] - 1

    def nearest_cell(self, y: float, x: float) -> Tuple[int, int]:
        """TFJS `getStridedIndexNearPoint`: input-pixel point -> clamped grid (row, column)."""
        return (min(max(js_round(y / self.stride), 0), self.last_row),
                min(max(js_round(x / self.stride), 0), self.last_column))

    def keypoint_position(self, row: int, column: int, keypoint: int) -> Tuple[float, float]:
        """TFJS `getImageCoords`: grid cell + short offset of `keypoint` -> input-pixel (y, x)."""
        offsets = self.offsets[row, column]
        return (row * self.stride + float(offsets[keypoint]),
                column * self.stride + float(offsets[keypoint + NUM_KEYPOINTS]))

    def traverse(self, edge: int, source: Tuple[float, float], target: int,
                 displacements: np.ndarray) -> Tuple[float, float, float]:
        """TFJS `traverseToTargetKeypoint`: follow displacement `edge` from `source` (y, x),
        refine on `target`'s short offsets -> (y, x, score) of the target keypoint.
        """
        num_edges = displacements.shape[2] // 2
        displacement = displacements[self.nearest_cell(*source)]
        y = source[0] + float(displacement[edge])
        x = source[1] + float(displacement[num_edges + edge])
        for _ in range(OFFSET_REFINE_STEPS):
            y, x = self.keypoint_position(*self.nearest_cell(y, x), target)
        return y, x, float(self.scores[self.nearest_cell(y, x)][target])

    def decode_pose(self, root_score: float, row: int, column: int, root: int) -> np.ndarray:
        """TFJS `decodePose`: (17, 3) rows (x, y, score) grown from the root along the chain."""
        found = [None] * NUM_KEYPOINTS
        found[root] = (*self.keypoint_position(row, column, root), root_score)
        for edge in reversed(range(len(EDGES))):
            parent, child = EDGES[edge]
            if found[child] is not None and found[parent] is None:
                found[parent] = self.traverse(
                    edge, found[child][:2], parent, self.displacement_bwd
                )
        for edge, (parent, child) in enumerate(EDGES):
            if found[parent] is not None and found[child] is None:
                found[child] = self.traverse(edge, found[parent][:2], child, self.displacement_fwd)
        return np.array([(x, y, score) for y, x, score in found], dtype=np.float64)


def _claimed(poses: np.ndarray, squared_radius: float, points: np.ndarray,
             keypoints: np.ndarray) -> np.ndarray:
    """TFJS `withinNmsRadiusOfCorrespondingPoint` for m points at once.

    poses: (p, 17, 3) earlier poses; points: (m, 2) (x, y); keypoints: (m,) keypoint ids.
    Returns (m,) bool: point i is within the NMS radius of keypoint i of some pose.
    """
    delta = poses[:, keypoints, :2] - points
    return ((delta * delta).sum(axis=2) <= squared_radius).any(axis=0)


def decode_multiple_poses(
    outputs: NetworkOutputs,
    output_stride: int,
    max_detections: int,
    score_threshold: float,
    nms_radius: float,
) -> Tuple[np.ndarray, np.ndarray]:
    """TFJS `decodeMultiplePoses` on the grid outputs.

    Returns keypoints (n, 17, 3) float64 rows (x, y, score) in network-input pixels and
    pose scores (n,) float64, n <= max_detections, in TFJS detection order (decreasing
    root score; pose scores need not decrease). nms_radius is in network-input pixels.
    """
    decoder = _PoseDecoder(outputs, output_stride)
    candidates = root_candidates(decoder.scores, score_threshold)
    # TFJS getImageCoords of every candidate root: (c, 2) (x, y) input pixels.
    row = np.arange(candidates.scores.size)
    cell_offsets = decoder.offsets[candidates.grid_y, candidates.grid_x].astype(np.float64)
    root_points = np.stack(
        [
            candidates.grid_x * output_stride
            + cell_offsets[row, candidates.keypoint + NUM_KEYPOINTS],
            candidates.grid_y * output_stride + cell_offsets[row, candidates.keypoint],
        ],
        axis=1,
    )
    squared_radius = nms_radius * nms_radius
    suppressed = np.zeros(row.size, dtype=bool)  # root near the same keypoint of a decoded pose
    poses = np.empty((max_detections, NUM_KEYPOINTS, 3))
    scores: List[float] = []
    all_keypoints = np.arange(NUM_KEYPOINTS)
    for index in max_heap_order(candidates.scores.tolist()):
        if len(scores) >= max_detections:
            break
        if suppressed[index]:
            continue
        keypoints = decoder.decode_pose(
            float(candidates.scores[index]),
            int(candidates.grid_y[index]),
            int(candidates.grid_x[index]),
            int(candidates.keypoint[index]),
        )
        # TFJS getInstanceScore: mean score, counting 0 for keypoints an earlier pose claims.
        claimed = _claimed(poses[: len(scores)], squared_radius, keypoints[:, :2], all_keypoints)
        scores.append(sum(keypoints[~claimed, 2].tolist()) / NUM_KEYPOINTS)
        poses[len(scores) - 1] = keypoints
        suppressed |= _claimed(keypoints[None], squared_radius, root_points, candidates.keypoint)
    return poses[: len(scores)], np.array(scores, dtype=np.float64)


def scale_poses(keypoints: np.ndarray, geometry: InputGeometry) -> np.ndarray:
    """TFJS `scaleAndFlipPoses`, no flip: input-pixel (n, 17, 3) -> frame pixels, scores kept."""
    scale_y, scale_x = geometry.input_scale
    scaled = keypoints.copy()
    scaled[..., 0] = keypoints[..., 0] * scale_x - geometry.padding.left
    scaled[..., 1] = keypoints[..., 1] * scale_y - geometry.padding.top
    return scaled
