"""What the `bodypix-ros` subcommands share: options, argument types, progress lines and image I/O.

Errors are raised as UsageError (exit status 2), CliError or DecodeError (exit status 1);
`cli.main` prints them as one line.
"""

import argparse
import importlib
import io
import json
import logging
import math
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from bodypix_ros.anonymize import MARGIN_RANGE, METHODS, AnonymizeSettings
from bodypix_ros.engine import BACKENDS, BodyPixEngine
from bodypix_ros.errors import CliError, DecodeError, ImageDataError, UsageError
from bodypix_ros.frame_outputs import OUTPUT_NAMES, FrameOutputs, RenderConfig
from bodypix_ros.model.names import BASE_URL_ENV, CACHE_DIR_ENV, DEFAULT_MODEL
from bodypix_ros.parts import KEYPOINT_NAMES
from bodypix_ros.render import OVERLAY_MODES
from bodypix_ros.result import SegmentationResult
from bodypix_ros.ros.image_codec import (
    DEFAULT_MAX_INPUT_PIXELS,
    MAX_INPUT_PIXELS_RANGE,
    check_pixel_budget,
    compressed_header,
)
from bodypix_ros.ros.params import PARAMETERS_BY_NAME
from bodypix_ros.settings import MultiPersonSettings, SegmentationSettings

PROG = "bodypix-ros"
LOGGER = logging.getLogger("bodypix_ros")
OVERLAY_ALPHA = PARAMETERS_BY_NAME["overlay_alpha"].default
"""Default overlay opacity: the segment node's."""


def add_model_arguments(parser: argparse.ArgumentParser, model_option: bool = True):
    """--model (unless `model_option` is False), --model-base-url, --model-cache-dir, --backend
    (see model.store.resolve_model); returns the argument group.
    """
    group = parser.add_argument_group("model")
    if model_option:
        group.add_argument(
            "--model",
            default=DEFAULT_MODEL,
            metavar="SPEC",
            help=f"short model name (e.g. {DEFAULT_MODEL}, resnet50_float_stride16), "
            f"a model.json path or an http(s) URL (default: %(default)s)",
        )
    group.add_argument("--model-base-url", metavar="URL",
                       help=f"URL or local directory laid out like the official model tree "
                            f"(default: ${BASE_URL_ENV} or the official storage)")
    group.add_argument("--model-cache-dir", metavar="DIR",
                       help=f"where downloads are cached (default: ${CACHE_DIR_ENV}, "
                            f"$XDG_CACHE_HOME/bodypix_ros or ~/.cache/bodypix_ros)")
    group.add_argument("--backend", choices=BACKENDS, default="tensorflow",
                       help="what runs the network: tensorflow, or tflite (TensorFlow Lite, "
                            "XNNPACK; converts once per frame size) (default: %(default)s)")
    return group


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Segmentation settings; unset options keep the SegmentationSettings defaults."""
    defaults, multi = SegmentationSettings(), MultiPersonSettings()
    group = parser.add_argument_group("segmentation settings")
    group.add_argument("--internal-resolution", metavar="R",
                       help=f"low, medium, high, full or a fraction in [0.1, 2.0] "
                            f"(default: {defaults.internal_resolution})")
    group.add_argument(
        "--segmentation-threshold",
        type=float,
        metavar="T",
        help=f"person probability threshold (default: {defaults.segmentation_threshold})",
    )
    group.add_argument(
        "--part-filter",
        nargs="+",
        metavar="NAME",
        help="keep only these body parts (names of parts.PART_NAMES, e.g. left_face)",
    )
    group = parser.add_argument_group("multi-person settings")
    group.add_argument("--multi-person", action="store_true", default=None,
                       help="separate persons: write STEM.instances.png and STEM.persons.json")
    group.add_argument("--max-detections", type=int, metavar="N",
                       help=f"most persons to return (default: {multi.max_detections})")
    group.add_argument("--score-threshold", type=float, metavar="S",
                       help=f"least pose score of a person (default: {multi.score_threshold})")
    group.add_argument(
        "--nms-radius",
        type=float,
        metavar="R",
        help=f"pose non-maximum suppression radius, pixels (default: {multi.nms_radius})",
    )
    group.add_argument(
        "--min-keypoint-score",
        type=float,
        metavar="S",
        help=f"least keypoint score used to match pixels (default: {multi.min_keypoint_score})",
    )
    group.add_argument("--refine-steps", type=int, metavar="N",
                       help=f"offset refinement steps (default: {multi.refine_steps})")


_SETTING_OPTIONS = {
    "internal_resolution": "internal_resolution",
    "segmentation_threshold": "segmentation_threshold",
    "part_filter": "part_filter",
    "multi_person": "multi_person.enabled",
    "max_detections": "multi_person.max_detections",
    "score_threshold": "multi_person.score_threshold",
    "nms_radius": "multi_person.nms_radius",
    "min_keypoint_score": "multi_person.min_keypoint_score",
    "refine_steps": "multi_person.refine_steps",
}
"""argparse dest -> SegmentationSettings.with_changes key."""


def settings_from_args(args: argparse.Namespace) -> SegmentationSettings:
    """The validated settings the options ask for; SettingsError names a bad one."""
    changes = {key: getattr(args, dest) for dest, key in _SETTING_OPTIONS.items()
               if getattr(args, dest) is not None}
    return SegmentationSettings().with_changes(**changes)


def load_engine(args: argparse.Namespace):
    """The BodyPixEngine the model options name (downloads it once if needed)."""
    return BodyPixEngine.load(
        args.model,
        base_url=args.model_base_url,
        cache_dir=args.model_cache_dir,
        backend=args.backend,
    )


def _number(text: str, convert, accept, what: str):
    """Argparse type body: convert(text) if accept(value), else ArgumentTypeError '... is not
    WHAT'.
    """
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def unit_interval(text: str) -> float:
    """Argparse type: a number in [0, 1]."""
    return _number(text, float, lambda value: 0.0 <= value <= 1.0, "a number in [0, 1]")


def positive_int(text: str) -> int:
    """Argparse type: an integer >= 1."""
    return _number(text, int, lambda value: value >= 1, "an integer >= 1")


def non_negative_int(text: str) -> int:
    """Argparse type: an integer >= 0."""
    return _number(text, int, lambda value: value >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    return _number(text, float, lambda value: 0.0 < value < math.inf, "a finite number > 0")


def non_negative_float(text: str) -> float:
    """Argparse type: a finite number >= 0."""
    return _number(text, float, lambda value: 0.0 <= value < math.inf, "a finite number >= 0")


def output_list(text: str) -> Tuple[str, ...]:
    """Argparse type: 'mask,overlay' -> ('mask', 'overlay'), each one of OUTPUT_NAMES."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in OUTPUT_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of {', '.join(OUTPUT_NAMES)}")
    return names


def make_output_dir(path: Path) -> None:
    """Create folder `path` and its parents if missing; CliError if that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"cannot create output dir {path}: {error.strerror}") from None


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 `text` to `path`, creating its folder; CliError if that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None


def add_overlay_arguments(group) -> None:
    """--overlay-mode and --overlay-alpha on a parser or argument group (see
    `overlay_mode_from_args`).
    """
    group.add_argument("--overlay-mode", choices=OVERLAY_MODES,
                       help="colour parts, persons (needs --multi-person) or the mask, or a TFJS "
                            "effect: bokeh, blur_parts (faces), pixelate "
                            "(default: persons with --multi-person, else parts)")
    group.add_argument("--overlay-alpha", type=unit_interval, default=OVERLAY_ALPHA, metavar="A",
                       help="overlay opacity in [0, 1] (default: %(default)s)")


def add_anonymize_arguments(group, what: str) -> None:
    """--anonymize (its help says `what` it does) and the --anonymize-* settings."""
    defaults = AnonymizeSettings()
    group.add_argument("--anonymize", action="store_true", help=what)
    group.add_argument("--anonymize-target", default=defaults.target, metavar="TARGET",
                       help="persons, faces, or comma-separated part names (default: %(default)s)")
    group.add_argument("--anonymize-method", choices=METHODS, default=defaults.method,
                       help="blur (Gaussian), pixelate or fill (black) (default: %(default)s)")
    group.add_argument("--anonymize-strength", type=positive_float, default=defaults.strength,
                       metavar="S",
                       help="blur: sigma in pixels of a 640-px frame, scaled with the frame; "
                            "pixelate: cell side in pixels (default: %(default)s)")
    group.add_argument("--anonymize-margin", type=non_negative_int, default=defaults.margin,
                       metavar="PX",
                       help=f"pixels the covered region extends beyond the target, up to "
                            f"{MARGIN_RANGE[1]} (default: %(default)s)")


def written_outputs(anonymize: bool) -> Tuple[str, ...]:
    """The outputs the file tools write: every output, the anonymized one only with --anonymize
    (instances appear only with --multi-person).
    """
    return tuple(name for name in OUTPUT_NAMES if name != "anonymized" or anonymize)


def render_config_from_args(args: argparse.Namespace,
                            settings: SegmentationSettings) -> RenderConfig:
    """The RenderConfig of the overlay and anonymize options; SettingsError names a bad one."""
    anonymize = AnonymizeSettings(args.anonymize_target, args.anonymize_method,
                                  args.anonymize_strength, args.anonymize_margin)
    return RenderConfig(settings, overlay_mode_from_args(args, settings), args.overlay_alpha,
                        anonymize)


def overlay_mode_from_args(args: argparse.Namespace, settings: SegmentationSettings) -> str:
    """--overlay-mode, by default persons with --multi-person, else parts; UsageError for
    persons without it.
    """
    overlay_mode = args.overlay_mode or ("persons" if settings.multi_person.enabled else "parts")
    if overlay_mode == "persons" and not settings.multi_person.enabled:
        raise UsageError("--overlay-mode persons needs --multi-person")
    return overlay_mode


class ProgressLog:
    """Progress lines `[index/total] LABEL NN ms` on stderr every `every` inputs, and the mean
    time.

    total: inputs expected (None or 0 = unknown); every: 0 = no progress lines.
    """

    def __init__(self, total: Optional[int], every: int):
        self.total = total
        self.every = every
        self.frames = 0
        self.milliseconds = 0.0

    def frame_done(self, index: int, label: str, elapsed_ms: float) -> None:
        """Record input number `index` (from 1), segmented in `elapsed_ms`."""
        self.frames += 1
        self.milliseconds += elapsed_ms
        if self.every and (index % self.every == 0 or index == self.total):
            of_total = f"/{self.total}" if self.total else ""
            print(f"[{index}{of_total}] {label} {elapsed_ms:.0f} ms", file=sys.stderr, flush=True)

    def mean(self) -> str:
        """'NN ms/frame', or 'no frame segmented'."""
        return (
            f"{self.milliseconds / self.frames:.0f} ms/frame"
            if self.frames
            else "no frame segmented"
        )


def find_images(arguments: Sequence[str]) -> List[Path]:
    """Files as given, folders expanded to their image files (sorted); UsageError if none or
    missing.
    """
    from PIL import Image

    extensions = set(Image.registered_extensions())
    paths = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions
            )
            if not found:
                raise UsageError(f"folder {path} holds no image file")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    return paths


def pixel_budget(text: str) -> int:
    """The --max-input-pixels type: an integer in MAX_INPUT_PIXELS_RANGE."""
    low, high = MAX_INPUT_PIXELS_RANGE
    return _number(text, int, lambda value: low <= value <= high, f"an integer in [{low}, {high}]")


def add_pixel_budget_argument(group) -> None:
    """--max-input-pixels N on a parser or argument group (the node's max_input_pixels)."""
    group.add_argument("--max-input-pixels", type=pixel_budget, default=DEFAULT_MAX_INPUT_PIXELS,
                       metavar="N",
                       help="refuse inputs of more pixels (width x height, read from the image "
                            "header before decoding) (default: %(default)s)")


def open_image(path: Path, max_pixels: int = DEFAULT_MAX_INPUT_PIXELS):
    """The PIL image of a file with only its header read, its size within `max_pixels`.

    The size is checked before anything is decoded: from the JPEG/PNG headers (whose
    structure is checked too), else from the header PIL read. ImageTooLargeError over the
    budget, ImageDataError if unreadable.
    """
    from PIL import Image

    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageDataError(f"cannot read image {path}: {error.strerror}") from None
    try:
        header = compressed_header(data)
    except ImageDataError as error:
        raise ImageDataError(f"cannot read image {path}: {error}") from None
    if header is not None:
        check_pixel_budget(header.width, header.height, max_pixels, f"image {path}")
    image = _decoding(path, Image.open, io.BytesIO(data))
    try:
        check_pixel_budget(*image.size, max_pixels, f"image {path}")
    except DecodeError:
        image.close()
        raise
    return image


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (EXIF orientation applied).

    DecodeError (see `open_image`) if it cannot be read or is over `max_pixels`.
    """
    from PIL import ImageOps

    with open_image(path, max_pixels) as image:
        return _decoding(path, lambda: np.asarray(ImageOps.exif_transpose(image).convert("RGB")))


def _decoding(path: Path, function, *arguments):
    """function(*arguments); PIL's errors become ImageDataError naming `path`."""
    from PIL import UnidentifiedImageError

    try:
        return function(*arguments)
    except UnidentifiedImageError:
        raise ImageDataError(f"cannot read image {path}: not an image format PIL knows") from None
    except Exception as error:  # a decoder on untrusted data: whatever it raises is bad data
        reason = str(error) or type(error).__name__
        raise ImageDataError(f"cannot read image {path}: {reason}") from None


def import_optional(module: str, missing_message: str):
    """The module named `module` (e.g. 'cv2'); CliError(missing_message) when it cannot be
    imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CliError(missing_message) from None


def demo_image() -> np.ndarray:
    """scikit-image's public-domain astronaut (512, 512, 3) uint8 RGB; CliError without
    scikit-image.
    """
    data = import_optional(
        "skimage.data",
        "no image given and scikit-image is not installed: "
        "pip install scikit-image (the demo extra) or pass an image",
    )
    return data.astronaut()


def write_outputs(output_dir: Path, stem: str, outputs: FrameOutputs,
                  model_name: str) -> List[Path]:
    """Write one frame's output images as STEM.<output name>.png (and, with instances,
    STEM.persons.json) into `output_dir`; returns the paths written.
    """
    written = []
    try:
        for name, pixels in outputs.images.items():
            written.append(output_dir / f"{stem}.{name}.png")
            _save_png(pixels, written[-1])
        if outputs.result.instances is not None:
            written.append(output_dir / f"{stem}.persons.json")
            record = persons_record(outputs.result, model_name)
            written[-1].write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {written[-1]}: {error}") from None
    return written


def _save_png(pixels: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(pixels)).save(path)


def persons_record(result: SegmentationResult, model_name: str) -> dict:
    """JSON-ready persons of a multi-person result; person id i is instance value i."""
    height, width = result.frame_size
    return {
        "model": model_name,
        "width": int(width),
        "height": int(height),
        "persons": [{
            "id": index,
            "score": round(float(person.score), 4),
            "box": [int(value) for value in person.box],
            "pixel_count": int(person.pixel_count),
            "keypoints": [{"name": name, "x": round(float(x), 2), "y": round(float(y), 2),
                           "score": round(float(score), 4)}
                          for name, (x, y, score) in zip(KEYPOINT_NAMES, person.keypoints)],
        } for index, person in enumerate(result.persons, start=1)],
    }


def add_progress_argument(group) -> None:
    """--progress-every N on a parser or argument group."""
    group.add_argument("--progress-every", type=non_negative_int, default=10, metavar="N",
                       help="print a progress line every N frames, 0 = never "
                            "(default: %(default)s)")
