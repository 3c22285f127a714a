"""`bodypix-ros segment`: images (files, or every image of a folder) into PNG outputs.

Per input STEM: STEM.mask.png (L, 0 / 255), STEM.part_labels.png (L, 0 = background,
k + 1 = part k), STEM.overlay.png (RGB) and, with --multi-person, STEM.instances.png (L,
0 = background, i = person i) and STEM.persons.json; with --anonymize STEM.anonymized.png
(the image with persons, faces or parts covered). Images are read with PIL and converted
to RGB (grayscale is replicated, alpha is dropped, EXIF orientation applied). Without an
image it segments scikit-image's astronaut picture. An image that cannot be read (or is over
--max-input-pixels) is reported on one line and skipped; the exit status is then 1.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bodypix_ros.cli.common import (
    PROG,
    ProgressLog,
    add_anonymize_arguments,
    add_model_arguments,
    add_overlay_arguments,
    add_pixel_budget_argument,
    add_settings_arguments,
    demo_image,
    find_images,
    load_engine,
    make_output_dir,
    open_image,
    read_image,
    render_config_from_args,
    settings_from_args,
    write_outputs,
    written_outputs,
)
from bodypix_ros.errors import DecodeError, UsageError
from bodypix_ros.frame_outputs import OutputSelection, segment_frame

DEMO_IMAGE_NAME = "astronaut.png"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment images into PNG masks, part labels and overlays",
        description="Segment images (files, or every image in a folder) and write per input STEM: "
        "STEM.mask.png (0/255), STEM.part_labels.png (0 = background, k+1 = part k), "
        "STEM.overlay.png and, with --multi-person, STEM.instances.png (0 = background, "
        "i = person i) and STEM.persons.json; with --anonymize STEM.anonymized.png. "
        "Without IMAGE: scikit-image's astronaut.",
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE|DIR",
                        help="image files or folders of images (grayscale and RGBA become RGB)")
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR")
    add_pixel_budget_argument(parser)
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("output")
    add_overlay_arguments(group)
    group.add_argument(
        "--timing", action="store_true", help="print per-stage milliseconds per image"
    )
    add_anonymize_arguments(parser.add_argument_group("privacy"),
                            "also write STEM.anonymized.png: the image with the target covered")
    parser.set_defaults(run=run_segment)


def run_segment(args: argparse.Namespace) -> int:
    """Check settings and inputs, load the model, segment each image and write its outputs.

    Returns 0, or 1 when some image could not be read (each reported on one line, the others
    written).
    """
    settings = settings_from_args(args)
    config = render_config_from_args(args, settings)
    selection = OutputSelection.of(written_outputs(args.anonymize))
    paths = find_images(args.images)
    _check_distinct_stems(paths)
    readable = [path for path in paths if _readable(path, args.max_input_pixels)]
    count = len(paths) or 1
    unreadable = len(paths) - len(readable)
    if paths and not readable:
        return 1
    make_output_dir(args.output_dir)
    engine = load_engine(args)
    written = 0
    inputs = [(path.name, path) for path in readable] or [(DEMO_IMAGE_NAME, None)]
    progress = ProgressLog(len(inputs), every=1 if len(inputs) > 1 else 0)
    for index, (name, path) in enumerate(inputs, start=1):
        try:
            frame = demo_image() if path is None else read_image(path, args.max_input_pixels)
        except DecodeError as error:  # header fine, data not
            _report_unreadable(error)
            unreadable += 1
            continue
        started = time.perf_counter()
        outputs = segment_frame(engine, frame, selection, config)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        written += len(write_outputs(args.output_dir, Path(name).stem, outputs, engine.model_name))
        progress.frame_done(index, name, elapsed_ms)
        if args.timing:
            print(format_timings(name, outputs.result.timings_ms))
    failures = f"; {unreadable} of {count} could not be read (named above)" if unreadable else ""
    print(f"wrote {written} files for {count - unreadable} image(s) to {args.output_dir}"
          f"{failures}", file=sys.stderr)
    return 1 if unreadable else 0


def _readable(path: Path, max_pixels: int) -> bool:
    """Whether the file's header is readable and within `max_pixels`; reports it if not."""
    try:
        open_image(path, max_pixels).close()
    except DecodeError as error:
        _report_unreadable(error)
        return False
    return True


def _report_unreadable(error: DecodeError) -> None:
    print(f"{PROG}: error: {error}", file=sys.stderr, flush=True)


def _check_distinct_stems(paths: Sequence[Path]) -> None:
    seen: Dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise UsageError(f"{seen[path.stem]} and {path} would both write {path.stem}.*.png")
        seen[path.stem] = path


def format_timings(name: str, timings_ms: Dict[str, float]) -> str:
    """'NAME: stage 1.2 ms | ... | total 9.9 ms'."""
    total = ("total", sum(timings_ms.values()))
    stages: List[Tuple[str, float]] = [*timings_ms.items(), total]
    return f"{name}: " + " | ".join(f"{stage} {ms:.1f} ms" for stage, ms in stages)


