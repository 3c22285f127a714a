"""The TFJS body-pix effects on arrays: bokeh, body-part blur, pixelated mask, drawn mask.

Each follows `output_rendering_util.ts` of TFJS body-pix 2.2, with a canvas `blur(Npx)` filter
taken as a Gaussian of standard deviation N pixels. Frames are (H, W, 3) uint8 (any channel
order: the effects treat channels alike); masks (H, W) uint8, nonzero = inside. Borders are
reflected where the canvas blurs against transparent black, so outputs stay opaque.
"""

from typing import Sequence

import numpy as np

from bodypix_ros.parts import PART_IDS

FACE_PARTS = ("left_face", "right_face")
"""The parts TFJS `blurBodyPart` blurs by default (ids 0 and 1)."""


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W[, C]) uint8 or float32 array blurred by a Gaussian of `sigma` pixels (0 = copy).

    Same shape and dtype, borders reflected (OpenCV BORDER_REFLECT_101). From sigma 2 up, three
    box blurs as the W3C filter-effects spec (and browsers, for a canvas `blur()`) approximate
    it: the time does not grow with sigma.
    """
    import cv2

    image = np.ascontiguousarray(image)
    if sigma <= 0:
        return image.copy()
    if sigma < 2.0:
        return cv2.GaussianBlur(image, (0, 0), float(sigma))
    size = int(sigma * 3.0 * np.sqrt(2.0 * np.pi) / 4.0 + 0.5)
    if size % 2:
        anchors = [(size, size // 2)] * 3
    else:  # two boxes centred half a pixel left and right, then one of size + 1
        anchors = [(size, size // 2), (size, size // 2 - 1), (size + 1, size // 2)]
    for width, anchor in anchors:
        image = cv2.blur(image, (width, width), anchor=(anchor, anchor))
    return image


def parts_mask(part_labels: np.ndarray, part_names: Sequence[str]) -> np.ndarray:
    """(H, W) uint8 part labels (k + 1 = part k) -> (H, W) uint8, 255 on `part_names`, else 0."""
    table = np.zeros(256, np.uint8)
    table[[PART_IDS[name] + 1 for name in part_names]] = 255
    return table.take(part_labels)


def composite(frame: np.ndarray, other: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Blend: frame * keep + other * (1 - keep), rounded -> (H, W, 3) uint8.

    frame, other (H, W, 3) uint8; keep (H, W) float32 in [0, 1].
    """
    import cv2

    return cv2.blendLinear(np.ascontiguousarray(frame), np.ascontiguousarray(other), keep,
                           1.0 - keep)


def _keep_blurred_outside(frame: np.ndarray, keep_mask: np.ndarray, background_blur: float,
                          edge_blur: float) -> np.ndarray:
    """The frame where `keep_mask` (H, W) uint8 is set, blurred by `background_blur` px elsewhere.

    The seam is softened by blurring the mask by `edge_blur` px (TFJS compositing).
    """
    keep = gaussian_blur(keep_mask.astype(np.float32) / 255.0, edge_blur)
    return composite(frame, gaussian_blur(frame, background_blur), keep)


def bokeh(frame: np.ndarray, person_mask: np.ndarray, background_blur: float = 3.0,
          edge_blur: float = 3.0) -> np.ndarray:
    """TFJS `drawBokehEffect`: the background blurred by `background_blur` px, persons sharp.

    The mask's edge is blurred by `edge_blur` px. frame (H, W, 3) uint8, person_mask (H, W)
    uint8 (nonzero = person) -> (H, W, 3) uint8.
    """
    return _keep_blurred_outside(frame, person_mask, background_blur, edge_blur)


def blur_parts(frame: np.ndarray, part_labels: np.ndarray, part_names: Sequence[str] = FACE_PARTS,
               background_blur: float = 3.0, edge_blur: float = 3.0) -> np.ndarray:
    """TFJS `blurBodyPart`: `part_names` (faces by default) blurred by `background_blur` px.

    The rest stays sharp, the seam is blurred by `edge_blur` px. frame (H, W, 3) uint8,
    part_labels (H, W) uint8 (k + 1 = part k) -> (H, W, 3) uint8.
    """
    keep = 255 - parts_mask(part_labels, part_names)
    return _keep_blurred_outside(frame, keep, background_blur, edge_blur)


def draw_mask(frame: np.ndarray, mask_image: np.ndarray, opacity: float = 0.7,
              mask_blur: float = 0.0) -> np.ndarray:
    """TFJS `drawMask` with an opaque mask image, blurred by `mask_blur` px, at `opacity`.

    frame, mask_image (H, W, 3) uint8; opacity in [0, 1] -> (H, W, 3) uint8.
    """
    import cv2

    _check_opacity(opacity)
    blurred = gaussian_blur(mask_image, mask_blur)
    return cv2.addWeighted(np.ascontiguousarray(frame), 1.0 - opacity, blurred, opacity, 0.0)


def pixelated_mask(frame: np.ndarray, mask_image: np.ndarray, opacity: float = 0.7,
                   mask_blur: float = 0.0, cell: int = 10) -> np.ndarray:
    """TFJS `drawPixelatedMask`: the mask image in `cell`-pixel blocks with a white grid.

    The mask image (blurred by `mask_blur` px) is shrunk to (H // cell, W // cell) by area
    averaging and stretched back without smoothing; a 1-px white grid line every `cell` px is
    drawn half-transparent over the two pixel rows/columns it straddles (as an antialiased canvas
    line); then the frame is drawn over it at 1 - `opacity`.
    frame, mask_image (H, W, 3) uint8 -> (H, W, 3) uint8.
    """
    import cv2

    _check_opacity(opacity)
    if isinstance(cell, bool) or not isinstance(cell, int) or cell < 1:
        raise ValueError(f"pixel cell {cell!r} must be a positive integer number of pixels")
    height, width = frame.shape[:2]
    small_size = (max(1, width // cell), max(1, height // cell))
    small = cv2.resize(gaussian_blur(mask_image, mask_blur), small_size,
                       interpolation=cv2.INTER_AREA)
    cells = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    grid = cells.astype(np.float32)
    for axis, count in ((1, small.shape[1]), (0, small.shape[0])):
        lines = np.arange(count) * cell
        straddled = np.concatenate([lines - 1, lines])
        straddled = straddled[(straddled >= 0) & (straddled < frame.shape[axis])]
        index = (slice(None), straddled) if axis == 1 else (straddled,)
        grid[index] = (grid[index] + 255.0) / 2.0
    return cv2.addWeighted(np.ascontiguousarray(frame), 1.0 - opacity,
                           np.rint(grid).astype(np.uint8), opacity, 0.0)


def _check_opacity(opacity: float) -> None:
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"mask opacity {opacity} is outside [0.0, 1.0]")
