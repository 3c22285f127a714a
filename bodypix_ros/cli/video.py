"""`bodypix-ros video`: the engine on a video file.

Reads frames with OpenCV and writes STEM.overlay.mp4 (or .avi with MJPG; STEM.anonymized.mp4
with --anonymize) at the input's frame rate divided by --every, and with --frames the PNGs of
`segment` per frame (STEM.NNNNNN.mask.png ..., NNNNNN = source frame index from 0). A video whose
frames exceed --max-input-pixels is refused before decoding; frames OpenCV cannot read are
skipped (the first reported), the rest segmented, and the exit status is then 1.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Iterator, Optional, Tuple

import numpy as np

from bodypix_ros.cli.common import (
    PROG,
    ProgressLog,
    add_anonymize_arguments,
    add_model_arguments,
    add_overlay_arguments,
    add_pixel_budget_argument,
    add_progress_argument,
    add_settings_arguments,
    load_engine,
    make_output_dir,
    positive_int,
    render_config_from_args,
    settings_from_args,
    write_outputs,
    written_outputs,
)
from bodypix_ros.errors import CliError, UsageError
from bodypix_ros.frame_outputs import OutputSelection, segment_frame
from bodypix_ros.ros.image_codec import check_pixel_budget, swap_red_blue

VIDEO_CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}
"""FourCC -> file extension of the overlay video."""
DEFAULT_FPS = 30.0
"""Frame rate assumed when the input video does not state one."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "video",
        help="segment a video file into an overlay video (and per-frame PNGs)",
        description="Segment the frames of a video file (read with OpenCV) and write "
        "OUT/STEM.overlay.mp4 (.avi with --codec MJPG) at the input frame rate / --every; with "
        "--frames also the PNGs of 'bodypix-ros segment' per frame, named STEM.NNNNNN.* "
        "(NNNNNN = frame index from 0).",
    )
    parser.add_argument("input_video", type=Path, metavar="INPUT_VIDEO")
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR")
    add_pixel_budget_argument(parser)
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("frames")
    group.add_argument("--every", type=positive_int, default=1, metavar="N",
                       help="segment every Nth frame (default: %(default)s)")
    group.add_argument("--max-frames", type=positive_int, metavar="N",
                       help="stop after segmenting N frames (default: all)")
    group = parser.add_argument_group("output")
    add_overlay_arguments(group)
    group.add_argument(
        "--codec",
        choices=VIDEO_CODECS,
        default="mp4v",
        help="overlay video codec: mp4v (.mp4) or MJPG (.avi) (default: %(default)s)",
    )
    group.add_argument(
        "--frames",
        action="store_true",
        help="also write each segmented frame's mask, parts, overlay (and instances, "
        "persons.json) like 'bodypix-ros segment'",
    )
    add_progress_argument(group)
    add_anonymize_arguments(parser.add_argument_group("privacy"),
                            "write STEM.anonymized.mp4 (the frames with the target covered) "
                            "instead of the overlay video")
    parser.set_defaults(run=run_video)


def video_frames(capture, every: int, max_frames: Optional[int],
                 frame_count: int) -> Iterator[Tuple[int, Optional[np.ndarray]]]:
    """(source frame index from 0, frame) of every `every`-th frame of an opened cv2.VideoCapture.

    frame: (H, W, 3) uint8 RGB, or None when OpenCV cannot read it. At most `max_frames`
    frames (None = all); frames off the `every` grid are not decoded. A failed read before
    `frame_count` (the container's frame count, 0 = unknown) is a bad frame and reading goes
    on after it; after `frame_count` it ends the video.
    """
    index = yielded = 0
    while max_frames is None or yielded < max_frames:
        grabbed = capture.grab()
        if not grabbed and index >= frame_count:
            return
        if index % every == 0:
            ok, bgr = capture.retrieve() if grabbed else (False, None)
            yield index, swap_red_blue(bgr) if ok else None
            yielded += ok
        index += 1


def run_video(args: argparse.Namespace) -> int:
    """Check options and input, load the model, segment the frames and write the overlay video."""
    settings = settings_from_args(args)
    config = render_config_from_args(args, settings)
    # the overlay (or the anonymized frame) goes into the video; --frames also writes every
    # output as PNGs
    video_output = "anonymized" if args.anonymize else "overlay"
    selection = OutputSelection.of(written_outputs(args.anonymize) if args.frames
                                   else (video_output,))
    if not args.input_video.is_file():
        raise UsageError(f"no such file: {args.input_video}")
    import cv2

    capture = cv2.VideoCapture(str(args.input_video))
    writer = None
    try:
        if not capture.isOpened():
            raise CliError(
                f"cannot open video {args.input_video} (not a video, or a codec OpenCV lacks)"
            )
        check_pixel_budget(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                           int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), args.max_input_pixels,
                           f"video {args.input_video}: a frame")
        fps = capture.get(cv2.CAP_PROP_FPS)
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        expected = -(-frame_count // args.every) if frame_count > 0 else None
        if expected and args.max_frames:
            expected = min(expected, args.max_frames)
        make_output_dir(args.output_dir)
        engine = load_engine(args)
        stem = args.input_video.stem
        video_path = args.output_dir / f"{stem}.{video_output}{VIDEO_CODECS[args.codec]}"
        output_fps = (fps if fps > 0 else DEFAULT_FPS) / args.every
        progress = ProgressLog(expected, args.progress_every)
        files = unreadable = 0
        frames = video_frames(capture, args.every, args.max_frames, frame_count)
        for number, (index, frame) in enumerate(frames, start=1):
            if frame is None:
                unreadable += 1
                if unreadable == 1:
                    print(f"{PROG}: error: cannot read frame {index} of {args.input_video}; "
                          f"skipping it (and any other unreadable frame)", file=sys.stderr)
                continue
            started = time.perf_counter()
            outputs = segment_frame(engine, frame, selection, config)
            if writer is None:
                writer = open_video_writer(
                    cv2, video_path, args.codec, output_fps, frame.shape[:2]
                )
            writer.write(swap_red_blue(outputs.images[video_output]))
            if args.frames:
                files += len(write_outputs(args.output_dir, f"{stem}.{index:06d}", outputs,
                                           engine.model_name))
            progress.frame_done(number, f"frame {index}", (time.perf_counter() - started) * 1000.0)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise CliError(f"no frame could be read from {args.input_video}")
    pngs = f" and {files} frame files" if args.frames else ""
    failures = f"; {unreadable} unreadable frame(s) skipped" if unreadable else ""
    print(f"{progress.frames} frames segmented (every {args.every}){failures}; "
          f"{progress.mean()}; wrote {video_path}{pngs}", file=sys.stderr)
    return 1 if unreadable else 0


def open_video_writer(cv2, path: Path, codec: str, fps: float, frame_size: Tuple[int, int]):
    """An opened cv2.VideoWriter for (H, W) BGR frames; CliError if OpenCV cannot write it."""
    height, width = frame_size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise CliError(f"OpenCV cannot write {codec} video {path}")
    return writer


