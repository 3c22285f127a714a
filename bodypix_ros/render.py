"""Colour images drawn from a result: parts, persons, mask, and their overlay on the frame."""

from typing import Sequence

import numpy as np

from .parts import PERSON_COLORS, RAINBOW_PART_COLORS

OVERLAY_MODES = ("parts", "persons", "mask")
MASK_COLOR = (0, 255, 0)


def color_labels(labels: np.ndarray, palette: np.ndarray,
                 background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """(H, W) uint8 labels (0 = background, k = palette row (k - 1) % len) -> (H, W, 3) uint8."""
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    lookup = np.empty((256, 3), dtype=np.uint8)
    lookup[0] = background
    lookup[1:] = palette[np.arange(255) % len(palette)]
    return lookup[labels]


def color_parts(part_labels: np.ndarray, palette: np.ndarray = RAINBOW_PART_COLORS,
                background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Part labels (0 = background, k + 1 = part k) -> (H, W, 3) uint8, TFJS rainbow by default."""
    return color_labels(part_labels, palette, background)


def color_persons(instances: np.ndarray, palette: np.ndarray = PERSON_COLORS,
                  background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Instance ids (0 = background, i = person i) -> (H, W, 3) uint8, one colour per person."""
    return color_labels(instances, palette, background)


def blend(frame: np.ndarray, colors: np.ndarray, where: np.ndarray, alpha: float) -> np.ndarray:
    """frame * (1 - alpha) + colors * alpha on pixels where `where` is non-zero; (H, W, 3) uint8."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay alpha {alpha} is outside [0.0, 1.0]")
    out = frame.copy()
    selected = where.astype(bool)
    mixed = frame[selected].astype(np.float32) * (1.0 - alpha) + colors[selected] * alpha
    out[selected] = np.rint(mixed).astype(np.uint8)
    return out


def render_overlay(frame: np.ndarray, result, mode: str = "parts", alpha: float = 0.7) -> np.ndarray:
    """Blend parts, persons or the mask of `result` on the (H, W, 3) uint8 RGB `frame`."""
    if mode == "parts" and result.part_labels is not None:
        return blend(frame, color_parts(result.part_labels), result.part_labels, alpha)
    if mode == "persons" and result.instances is not None:
        return blend(frame, color_persons(result.instances), result.instances, alpha)
    if mode in OVERLAY_MODES:
        colors = np.broadcast_to(np.asarray(MASK_COLOR, dtype=np.uint8), frame.shape)
        return blend(frame, colors, result.person_mask, alpha)
    raise ValueError(f"overlay mode {mode!r} is not one of {', '.join(OVERLAY_MODES)}")
