"""`bodypix-ros segment`: images (files, or every image of a folder) into PNG outputs.

Per input STEM: STEM.mask.png (L, 0 / 255), STEM.part_labels.png (L, 0 = background,
k + 1 = part k), STEM.overlay.png (RGB) and, with --multi-person, STEM.instances.png (L,
0 = background, i = person i) and STEM.persons.json. Images are read with PIL and converted
to RGB (grayscale is replicated, alpha is dropped, EXIF orientation applied). Without an
image it segments scikit-image's astronaut picture.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bodypix_ros.cli.common import (
    ProgressLog,
    add_model_arguments,
    add_overlay_arguments,
    add_settings_arguments,
    demo_image,
    find_images,
    identify_image,
    load_engine,
    make_output_dir,
    overlay_mode_from_args,
    read_image,
    settings_from_args,
    write_outputs,
)
from bodypix_ros.errors import UsageError
from bodypix_ros.frame_outputs import OUTPUT_NAMES, OutputSelection, RenderConfig, segment_frame

DEMO_IMAGE_NAME = "astronaut.png"
WRITTEN_OUTPUTS = OUTPUT_NAMES
"""Every output is written (instances only with --multi-person)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment", help="segment images into PNG masks, part labels and overlays",
        description="Segment images (files, or every image in a folder) and write per input STEM: "
                    "STEM.mask.png (0/255), STEM.part_labels.png (0 = background, k+1 = part k), "
                    "STEM.overlay.png and, with --multi-person, STEM.instances.png (0 = background, "
                    "i = person i) and STEM.persons.json. Without IMAGE: scikit-image's astronaut.")
    parser.add_argument("images", nargs="*", metavar="IMAGE|DIR",
                        help="image files or folders of images (grayscale and RGBA become RGB)")
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR")
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("output")
    add_overlay_arguments(group)
    group.add_argument("--timing", action="store_true", help="print per-stage milliseconds per image")
    parser.set_defaults(run=run_segment)


def run_segment(args: argparse.Namespace) -> int:
    """Check settings and inputs, load the model, segment each image and write its outputs."""
    settings = settings_from_args(args)
    config = RenderConfig(settings, overlay_mode_from_args(args, settings), args.overlay_alpha)
    selection = OutputSelection.of(WRITTEN_OUTPUTS)
    paths = find_images(args.images)
    _check_distinct_stems(paths)
    if paths:
        for path in paths:
            identify_image(path)
        frames = ((path.name, read_image(path)) for path in paths)
    else:
        frames = iter([(DEMO_IMAGE_NAME, demo_image())])
    count = len(paths) or 1
    make_output_dir(args.output_dir)
    engine = load_engine(args)
    written = 0
    progress = ProgressLog(count, every=1 if count > 1 else 0)
    for index, (name, frame) in enumerate(frames, start=1):
        started = time.perf_counter()
        outputs = segment_frame(engine, frame, selection, config)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        written += len(write_outputs(args.output_dir, Path(name).stem, outputs, engine.model_name))
        progress.frame_done(index, name, elapsed_ms)
        if args.timing:
            print(format_timings(name, outputs.result.timings_ms))
    print(f"wrote {written} files for {count} image(s) to {args.output_dir}", file=sys.stderr)
    return 0


def _check_distinct_stems(paths: Sequence[Path]) -> None:
    seen: Dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise UsageError(f"{seen[path.stem]} and {path} would both write {path.stem}.*.png")
        seen[path.stem] = path


def format_timings(name: str, timings_ms: Dict[str, float]) -> str:
    """'NAME: stage 1.2 ms | ... | total 9.9 ms'."""
    stages: List[Tuple[str, float]] = list(timings_ms.items()) + [("total", sum(timings_ms.values()))]
    return f"{name}: " + " | ".join(f"{stage} {ms:.1f} ms" for stage, ms in stages)


