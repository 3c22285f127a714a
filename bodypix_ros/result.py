"""What one inference returns: images at the frame's resolution, plus per-person records."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass
class NetworkOutputs:
    """Raw network outputs on the output grid, each (grid_h, grid_w, C) float32.

    Logits except `heatmaps` (sigmoid applied, as TFJS `predict` returns them).
    Offsets are (y..., x...) channel blocks in network-input pixels.
    """

    segments: np.ndarray          # (h, w, 1) person logits
    part_heatmaps: np.ndarray     # (h, w, 24) part logits
    heatmaps: np.ndarray          # (h, w, 17) keypoint scores in [0, 1]
    short_offsets: np.ndarray     # (h, w, 34)
    long_offsets: np.ndarray      # (h, w, 34)
    displacement_fwd: np.ndarray  # (h, w, 32)
    displacement_bwd: np.ndarray  # (h, w, 32)


@dataclass
class Person:
    """One detected person.

    keypoints: (17, 3) float32 rows (x, y, score), x/y in frame pixels, in
    `parts.KEYPOINT_NAMES` order; box: (x_min, y_min, x_max, y_max) inclusive
    frame pixels of the person's instance mask (all -1 when it has no pixel).
    """

    score: float
    keypoints: np.ndarray
    box: Tuple[int, int, int, int]
    pixel_count: int


@dataclass
class SegmentationResult:
    """Outputs for one H×W frame.

    person_mask: (H, W) uint8, 255 = person, 0 = background.
    part_labels: (H, W) uint8, 0 = background, k + 1 = BodyPix part k; None if not asked for.
    instances: (H, W) uint8, 0 = background, i = person i (1-based, by pose score);
        None unless multi-person decoding ran.
    persons: one record per instance id, persons[i - 1] is instance i.
    timings_ms: milliseconds spent per stage.
    """

    person_mask: np.ndarray
    part_labels: Optional[np.ndarray] = None
    instances: Optional[np.ndarray] = None
    persons: List[Person] = field(default_factory=list)
    timings_ms: Dict[str, float] = field(default_factory=dict)

    @property
    def frame_size(self) -> Tuple[int, int]:
        """(H, W) of the input frame."""
        return self.person_mask.shape[:2]

    @property
    def person_part_labels(self) -> Optional[np.ndarray]:
        """(H, W) uint8 part label + 1 of the pixel's owning person, 0 where no person owns it."""
        if self.part_labels is None or self.instances is None:
            return None
        return np.where(self.instances > 0, self.part_labels, 0).astype(np.uint8)
