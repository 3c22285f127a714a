"""Colour images drawn from a result: parts, persons, mask, and their overlay on the frame."""

from typing import Sequence

import numpy as np

from .parts import PERSON_COLORS, RAINBOW_PART_COLORS

OVERLAY_MODES = ("parts", "persons", "mask")
MASK_COLOR = np.array([(0, 255, 0)], dtype=np.uint8)


def label_palette(palette: np.ndarray) -> np.ndarray:
    """(K, 3) palette -> (256, 3) uint8 table: label k >= 1 takes row (k - 1) % K; callers set row 0."""
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return palette[(np.arange(256) - 1) % len(palette)]


def color_labels(labels: np.ndarray, palette: np.ndarray,
                 background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """(H, W) uint8 labels (0 = background, k = palette row (k - 1) % K) -> (H, W, 3) uint8."""
    table = label_palette(palette)
    table[0] = background
    return table.take(labels, axis=0)


def color_parts(part_labels: np.ndarray, palette: np.ndarray = RAINBOW_PART_COLORS,
                background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Part labels (0 = background, k + 1 = part k) -> (H, W, 3) uint8, TFJS rainbow by default."""
    return color_labels(part_labels, palette, background)


def color_persons(instances: np.ndarray, palette: np.ndarray = PERSON_COLORS,
                  background: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Instance ids (0 = background, i = person i) -> (H, W, 3) uint8, one colour per person."""
    return color_labels(instances, palette, background)


def overlay_labels(frame: np.ndarray, labels: np.ndarray, palette: np.ndarray, alpha: float) -> np.ndarray:
    """Blend each labelled pixel's colour onto the frame: frame * (1 - alpha) + colour * alpha.

    frame: (H, W, 3) uint8; labels: (H, W) uint8, 0 keeps the frame pixel; alpha in [0, 1]
    (rounded to 1/256 steps). Returns (H, W, 3) uint8; integer arithmetic, only over the
    rows and columns that hold a label.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay alpha {alpha} is outside [0.0, 1.0]")
    out = frame.copy()
    rows, cols = np.flatnonzero(labels.any(axis=1)), np.flatnonzero(labels.any(axis=0))
    if rows.size == 0:
        return out
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    labels = labels[box]
    weight = int(round(alpha * 256))
    frame_weight = np.full(256, 256 - weight, dtype=np.uint16)
    frame_weight[0] = 256
    color_term = label_palette(palette).astype(np.uint16) * np.uint16(weight) + np.uint16(128)
    color_term[0] = 128  # + 128 rounds the >> 8 to nearest
    blended = np.multiply(frame[box], frame_weight.take(labels)[:, :, None], dtype=np.uint16)
    blended += color_term.take(labels, axis=0)  # take: much faster than indexing with uint8
    blended >>= 8
    out[box] = blended
    return out


def render_overlay(frame: np.ndarray, result, mode: str = "parts", alpha: float = 0.7) -> np.ndarray:
    """Blend parts, persons or the mask of `result` on the (H, W, 3) uint8 RGB `frame`.

    Falls back to the mask when the result lacks the labels `mode` asks for.
    """
    if mode not in OVERLAY_MODES:
        raise ValueError(f"overlay mode {mode!r} is not one of {', '.join(OVERLAY_MODES)}")
    if mode == "parts" and result.part_labels is not None:
        return overlay_labels(frame, result.part_labels, RAINBOW_PART_COLORS, alpha)
    if mode == "persons" and result.instances is not None:
        return overlay_labels(frame, result.instances, PERSON_COLORS, alpha)
    return overlay_labels(frame, np.minimum(result.person_mask, 1), MASK_COLOR, alpha)
