"""Privacy filter: blur, pixelate or fill the persons (or their faces, or chosen parts) of a frame.

The covered region is the target's pixels dilated by `margin` pixels (every pixel within that
Euclidean distance of a target pixel), so a filter errs on the side of covering. A frame in which
the target has no pixel passes unchanged.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from bodypix_ros.effects import FACE_PARTS, gaussian_blur, parts_mask
from bodypix_ros.errors import SettingsError
from bodypix_ros.settings import check_part_filter

TARGETS = ("persons", "faces")
"""Named targets; a target may also list part names (comma or space separated)."""
METHODS = ("blur", "pixelate", "fill")
STRENGTH_RANGE = (2.0, 200.0)
"""Pixels: a 1-pixel pixelate cell would leave the frame unchanged, a 1-pixel blur nearly so."""
MARGIN_RANGE = (0, 200)
BLUR_REFERENCE_WIDTH = 640
"""`blur` strength is a Gaussian sigma in pixels of a frame this wide, scaled with the frame."""


@dataclass(frozen=True)
class AnonymizeSettings:
    """What to cover and how; validated on construction (SettingsError).

    target: 'persons', 'faces', or part names (a comma/space separated string or a sequence);
    method: 'blur' (Gaussian, sigma = strength px at 640 px frame width, scaled with the frame's
    longer side), 'pixelate' (square cells of `strength` px, each the mean colour of its cell,
    cells aligned to the frame's top-left corner) or 'fill' (solid `color`, RGB);
    margin: pixels the covered region extends beyond the target.
    """

    target: str = "persons"
    method: str = "blur"
    strength: float = 16.0
    margin: int = 10
    color: Tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self):
        object.__setattr__(self, "target", check_target(self.target))
        if self.method not in METHODS:
            raise SettingsError(f"anonymize method {self.method!r} is not one of "
                                f"{', '.join(METHODS)}")
        low, high = STRENGTH_RANGE
        if (isinstance(self.strength, bool) or not isinstance(self.strength, (int, float))
                or not low <= self.strength <= high):
            raise SettingsError(f"anonymize strength {self.strength!r} is outside [{low}, {high}]")
        low, high = MARGIN_RANGE
        if (isinstance(self.margin, bool) or not isinstance(self.margin, int)
                or not low <= self.margin <= high):
            raise SettingsError(f"anonymize margin {self.margin!r} is not an integer number of "
                                f"pixels in [{low}, {high}]")
        color = tuple(self.color)
        if len(color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in color):
            raise SettingsError(f"anonymize color {self.color!r} must be three integers 0-255")
        object.__setattr__(self, "color", color)

    @property
    def parts(self) -> Optional[Tuple[str, ...]]:
        """Part names the target covers; None for 'persons' (the whole person mask)."""
        if self.target == "persons":
            return None
        return FACE_PARTS if self.target == "faces" else tuple(self.target.split(","))

    @property
    def needs_part_labels(self) -> bool:
        """Whether the target is made of parts, so the engine must compute part labels."""
        return self.parts is not None


def check_target(target) -> str:
    """A target -> 'persons', 'faces' or 'part,part,...' in TFJS order.

    Takes 'persons', 'faces', or part names (a comma/space separated string or a sequence);
    anything else raises SettingsError.
    """
    if isinstance(target, str) and target.strip() in TARGETS:
        return target.strip()
    names = check_part_filter(target)
    if not names:
        raise SettingsError(f"anonymize target {target!r} is empty; use {', '.join(TARGETS)} "
                            f"or part names")
    return ",".join(names)


def target_mask(result, settings: AnonymizeSettings) -> np.ndarray:
    """(H, W) uint8, 255 on the target's pixels of `result` (a SegmentationResult), else 0.

    A part target needs result.part_labels and raises ValueError without them (a privacy filter
    must not silently cover less than asked).
    """
    if settings.parts is None:
        return result.person_mask
    if result.part_labels is None:
        raise ValueError(f"anonymize target {settings.target!r} needs part labels; "
                         f"segment with part_labels=True")
    return parts_mask(result.part_labels, settings.parts)


def dilate(mask: np.ndarray, margin: int) -> np.ndarray:
    """(H, W) uint8 mask (nonzero = set) -> (H, W) uint8 mask grown by `margin` px.

    255 on every pixel within Euclidean distance `margin` of a set pixel, else 0.
    """
    import cv2

    if margin == 0 or not mask.any():
        return cv2.compare(mask, 0, cv2.CMP_GT)
    distance = cv2.distanceTransform(cv2.compare(mask, 0, cv2.CMP_EQ), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    return cv2.compare(distance, float(margin), cv2.CMP_LE)


def blur_sigma(frame_size: Tuple[int, int], strength: float) -> float:
    """Gaussian sigma in pixels for `blur` on an (H, W) frame (strength x longer side / 640)."""
    return strength * max(frame_size) / BLUR_REFERENCE_WIDTH


def pixelate(frame: np.ndarray, cell: int) -> np.ndarray:
    """(H, W, C) uint8 -> (H, W, C) uint8 with each `cell` x `cell` square set to its mean.

    Cells are aligned to the top-left corner; the last row/column of cells may be smaller; means
    are rounded to nearest.
    """
    import cv2

    height, width = frame.shape[:2]
    rows = np.append(np.arange(0, height, cell), height)
    cols = np.append(np.arange(0, width, cell), width)
    sums = cv2.integral(np.ascontiguousarray(frame), sdepth=cv2.CV_64F)  # (H + 1, W + 1, C)
    corners = sums[rows][:, cols]
    cell_sums = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
    counts = np.outer(np.diff(rows), np.diff(cols))[:, :, None]
    means = np.rint(cell_sums / counts).astype(np.uint8)
    size = (means.shape[1] * cell, means.shape[0] * cell)
    return cv2.resize(means, size, interpolation=cv2.INTER_NEAREST)[:height, :width]


def _covered_values(frame: np.ndarray, box, settings: AnonymizeSettings) -> np.ndarray:
    """The method's replacement pixels for the (y0, y1, x0, x1) box of the (H, W, 3) frame."""
    y0, y1, x0, x1 = box
    if settings.method == "fill":
        filled = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
        filled[:] = settings.color
        return filled
    if settings.method == "pixelate":
        cell = int(round(settings.strength))
        # whole cells around the box, so each cell's mean is that of the frame's cell
        cy0, cx0 = y0 - y0 % cell, x0 - x0 % cell
        cy1, cx1 = -(-y1 // cell) * cell, -(-x1 // cell) * cell
        cells = pixelate(frame[cy0:cy1, cx0:cx1], cell)
        return cells[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
    sigma = blur_sigma(frame.shape[:2], settings.strength)
    reach = int(np.ceil(4 * sigma)) + 1  # OpenCV's 8-bit kernel radius is about 3 sigma
    height, width = frame.shape[:2]
    # a margin past the kernel's radius on every side inside the frame, and the frame's own
    # reflected border elsewhere: the box comes out as in a blur of the whole frame
    by0, by1 = max(0, y0 - reach), min(height, y1 + reach)
    bx0, bx1 = max(0, x0 - reach), min(width, x1 + reach)
    blurred = gaussian_blur(frame[by0:by1, bx0:bx1], sigma)
    return blurred[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]


def anonymize(frame: np.ndarray, result, settings: AnonymizeSettings = AnonymizeSettings()
              ) -> np.ndarray:
    """Cover the target of `result` in the frame -> a new (H, W, 3) uint8 frame.

    frame: (H, W, 3) uint8; result: its SegmentationResult. Pixels outside the covered region are
    unchanged, and a frame without target pixels comes back unchanged (a copy). Only the
    target's bounding box widened by the margin is processed.
    """
    import cv2

    out = np.array(frame, dtype=np.uint8, order="C")
    target = target_mask(result, settings)
    x, y, w, h = cv2.boundingRect(target)
    if w == 0:
        return out
    margin, (height, width) = settings.margin, target.shape
    box = (max(0, y - margin), min(height, y + h + margin),
           max(0, x - margin), min(width, x + w + margin))
    y0, y1, x0, x1 = box
    region = dilate(target[y0:y1, x0:x1], margin)
    cv2.copyTo(_covered_values(out, box, settings), region, out[y0:y1, x0:x1])  # in place
    return out
