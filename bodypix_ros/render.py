"""Colour images drawn from a result: parts, persons, mask, and their overlay on the frame.

The overlay modes also include the TFJS effects of `effects.py` (bokeh, blur_parts, pixelate).
"""

from typing import Sequence

import numpy as np

from bodypix_ros.effects import blur_parts, bokeh, pixelated_mask
from bodypix_ros.parts import PERSON_COLORS, RAINBOW_PART_COLORS

OVERLAY_MODES = ("parts", "persons", "mask", "bokeh", "blur_parts", "pixelate")
PART_OVERLAY_MODES = ("parts", "blur_parts", "pixelate")
"""Overlay modes drawn from the part labels."""
MASK_COLOR = np.array([(0, 255, 0)], dtype=np.uint8)


def label_palette(palette: np.ndarray) -> np.ndarray:
    """(K, 3) palette -> (256, 3) uint8 table: label k >= 1 takes row (k - 1) % K.

    Callers set row 0.
    """
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return palette[(np.arange(256) - 1) % len(palette)]


def color_labels(labels: np.ndarray, palette: np.ndarray,
                 background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """(H, W) uint8 labels (0 = background, k = palette row (k - 1) % K) -> (H, W, 3) uint8."""
    table = label_palette(palette)
    table[0] = background
    return table.take(labels, axis=0)


def overlay_labels(frame: np.ndarray, labels: np.ndarray, palette: np.ndarray,
                   alpha: float) -> np.ndarray:
    """Blend each labelled pixel's colour onto the frame: frame * (1 - alpha) + colour * alpha.

    frame: (H, W, 3) uint8, any strides; labels: (H, W) uint8, 0 keeps the frame pixel exactly;
    alpha in [0, 1]. Returns a new (H, W, 3) uint8 array. OpenCV blends in float32 and rounds to
    nearest, so a labelled pixel is within 1 level of the exactly rounded blend (alpha 0 and 1
    are exact); only the bounding box of the labels is touched.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay alpha {alpha} is outside [0.0, 1.0]")
    import cv2

    out = frame.copy()  # C-contiguous even when frame is a view, as cv2 needs
    x, y, w, h = cv2.boundingRect(labels)
    if w == 0:
        return out
    box, labels = out[y:y + h, x:x + w], labels[y:y + h, x:x + w]
    colors = cv2.applyColorMap(labels, label_palette(palette)[:, None, :])  # 256-entry LUT
    cv2.copyTo(cv2.addWeighted(box, 1.0 - alpha, colors, alpha, 0.0), labels, box)  # in place
    return out


def render_overlay(frame: np.ndarray, result, mode: str = "parts",
                   alpha: float = 0.7) -> np.ndarray:
    """Draw `mode` of `result` on the (H, W, 3) uint8 RGB `frame` -> (H, W, 3) uint8.

    parts, persons, mask: colours blended at opacity `alpha`; bokeh: the background blurred
    (TFJS drawBokehEffect, 3 px blur and edge); blur_parts: the faces blurred (TFJS blurBodyPart,
    3 px); pixelate: the rainbow part colours on white in 10-px cells with a grid at opacity
    `alpha` (TFJS drawPixelatedMask). Falls back to the mask when the result lacks the labels
    `mode` asks for.
    """
    if mode not in OVERLAY_MODES:
        raise ValueError(f"overlay mode {mode!r} is not one of {', '.join(OVERLAY_MODES)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay alpha {alpha} is outside [0.0, 1.0]")
    if mode == "bokeh":
        return bokeh(frame, result.person_mask)
    if result.part_labels is not None:
        if mode == "parts":
            return overlay_labels(frame, result.part_labels, RAINBOW_PART_COLORS, alpha)
        if mode == "blur_parts":
            return blur_parts(frame, result.part_labels)
        if mode == "pixelate":
            colors = color_labels(result.part_labels, RAINBOW_PART_COLORS, (255, 255, 255))
            return pixelated_mask(frame, colors, opacity=alpha)
    if mode == "persons" and result.instances is not None:
        return overlay_labels(frame, result.instances, PERSON_COLORS, alpha)
    # 255 wraps to MASK_COLOR's one row
    return overlay_labels(frame, result.person_mask, MASK_COLOR, alpha)
