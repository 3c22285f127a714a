"""Root candidates of TFJS `decodeMultiplePoses`: local heatmap maxima, in the TFJS queue order.

Port of body-pix 2.2 `build_part_with_score_queue.ts` and `max_heap.ts`.
"""

from typing import Iterator, List, NamedTuple

import numpy as np

LOCAL_MAXIMUM_RADIUS = 1
"""TFJS kLocalMaximumRadius: a candidate is a maximum of its (2r + 1)^2 window."""


class RootCandidates(NamedTuple):
    """Local maxima of the keypoint heatmaps, each (n,), in TFJS enqueue order (y, x, keypoint)."""

    scores: np.ndarray     # float64 heatmap score
    grid_y: np.ndarray     # int row on the output grid
    grid_x: np.ndarray     # int column on the output grid
    keypoint: np.ndarray   # int keypoint id


def root_candidates(heatmaps: np.ndarray, score_threshold: float) -> RootCandidates:
    """(h, w, 17) keypoint scores -> every cell/keypoint scoring >= threshold and >= its 3x3
    window.

    TFJS `scoreIsMaximumInLocalWindow` rejects a cell only if a neighbour is strictly
    greater, so plateaus yield several candidates; the window is clipped at the grid edge.
    """
    height, width, _ = heatmaps.shape
    radius = LOCAL_MAXIMUM_RADIUS
    padded = np.pad(heatmaps, ((radius, radius), (radius, radius), (0, 0)),
                    constant_values=-np.inf)
    window_max = heatmaps.copy()
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            np.maximum(window_max, padded[dy:dy + height, dx:dx + width], out=window_max)
    above = heatmaps.astype(np.float64) >= score_threshold  # in doubles, as TFJS (and on numpy 1)
    grid_y, grid_x, keypoint = np.nonzero(above & (heatmaps >= window_max))
    scores = heatmaps[grid_y, grid_x, keypoint].astype(np.float64)
    return RootCandidates(scores, grid_y, grid_x, keypoint)


def max_heap_order(scores: List[float]) -> Iterator[int]:
    """Indices of `scores` in the order TFJS `MaxHeap` dequeues them after enqueuing all in order.

    Highest score first; equal scores come out in the heap's order, as in TFJS
    (its heap is rooted at 0 with parent(k) = floor(k / 2)).
    """
    heap: List[int] = []
    for index in range(len(scores)):
        heap.append(index)
        k = len(heap) - 1
        while k > 0 and scores[heap[k // 2]] < scores[heap[k]]:
            heap[k], heap[k // 2] = heap[k // 2], heap[k]
            k //= 2
    while heap:
        top = heap[0]
        heap[0] = heap[-1]
        heap.pop()
        last = len(heap) - 1
        k = 0
        while 2 * k <= last:
            j = 2 * k
            if j < last and scores[heap[j]] < scores[heap[j + 1]]:
                j += 1
            if not scores[heap[k]] < scores[heap[j]]:
                break
            heap[k], heap[j] = heap[j], heap[k]
            k = j
        yield top
