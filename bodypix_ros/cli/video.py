"""`bodypix-ros bag` and `bodypix-ros video`: the engine on recorded ROS 2 bags and video files, no ROS.

bag: reads sensor_msgs/msg/Image or CompressedImage messages of one topic from a rosbag2
(sqlite3 or mcap, read with `rosbags`), decodes them with the node's `image_codec`, segments
them and writes the node's output images (`node_outputs`) as sensor_msgs/msg/Image into a
new bag on `<prefix>/mask`, `<prefix>/part_labels`, `<prefix>/instances`, `<prefix>/overlay`,
each with its input's header and bag timestamp. Frames the codec refuses are skipped
(one warning per encoding) and counted.

video: reads frames with OpenCV and writes STEM.overlay.mp4 (or .avi with MJPG) at the
input's frame rate divided by --every, and with --frames the PNGs of `segment` per frame
(STEM.NNNNNN.mask.png ..., NNNNNN = source frame index from 0).
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

from bodypix_ros.cli.main import (
    LOGGER,
    ProgressLog,
    add_model_arguments,
    add_overlay_arguments,
    add_settings_arguments,
    import_optional,
    load_engine,
    make_output_dir,
    non_negative_int,
    output_names,
    overlay_mode_from_args,
    positive_int,
    settings_from_args,
    write_outputs,
)
from bodypix_ros.errors import CliError, ImageDataError, UnsupportedEncodingError, UsageError
from bodypix_ros.render import render_overlay
from bodypix_ros.ros.image_codec import (
    DecodedFrame,
    decode_compressed,
    decode_image,
    swap_red_blue,
)
from bodypix_ros.ros.outputs import (
    OUTPUT_NAMES,
    OutputSelection,
    engine_request,
    output_messages,
    segment_frame,
)
from bodypix_ros.ros.params import LiveConfig

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
DECODERS = {IMAGE_TYPE: decode_image, COMPRESSED_IMAGE_TYPE: decode_compressed}
"""Input message type -> image_codec decoder."""

DEFAULT_TOPIC_PREFIX = "/bodypix"
BAG_STORAGES = ("sqlite3", "mcap")
BAG_FORMAT_VERSION = 8
"""rosbag2 metadata version written (the oldest `rosbags` writes)."""

VIDEO_CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}
"""FourCC -> file extension of the overlay video."""
DEFAULT_FPS = 30.0
"""Frame rate assumed when the input video does not state one."""


def add_progress_argument(group) -> None:
    group.add_argument("--progress-every", type=non_negative_int, default=10, metavar="N",
                       help="print a progress line every N frames, 0 = never (default: %(default)s)")


# ---- bag ---------------------------------------------------------------------------------------

def add_bag_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bag", help="segment the images of a recorded ROS 2 bag into a new bag",
        description="Segment the sensor_msgs/msg/Image or CompressedImage (JPEG/PNG) messages of "
                    "TOPIC in a rosbag2 (sqlite3 or mcap) and write sensor_msgs/msg/Image outputs, "
                    "as the segment node publishes them, into a new bag on PREFIX/mask (mono8 "
                    "0/255), PREFIX/part_labels (mono8, k+1 = part k), PREFIX/instances (mono8, "
                    "i = person i) and PREFIX/overlay (rgb8, bgr8 for blue-first input), each "
                    "with its input's header and bag timestamp. Needs rosbags "
                    "(pip install rosbags: the bag extra); no ROS installation.")
    parser.add_argument("input_bag", type=Path, metavar="INPUT_BAG",
                        help="rosbag2 folder, or its .db3 or .mcap file")
    parser.add_argument("--topic", required=True, help="image topic to segment, e.g. /camera/image_raw")
    parser.add_argument("--output-bag", required=True, type=Path, metavar="OUT_BAG",
                        help="rosbag2 folder to create (must not exist)")
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--outputs", type=output_names, metavar="NAME[,NAME...]",
                       help=f"outputs to write, from {','.join(OUTPUT_NAMES)} (default: mask,"
                            f"part_labels,overlay, and instances with --multi-person)")
    group.add_argument("--topic-prefix", default=DEFAULT_TOPIC_PREFIX, metavar="PREFIX",
                       help="namespace of the output topics (default: %(default)s)")
    group.add_argument("--storage", choices=BAG_STORAGES, default=BAG_STORAGES[0],
                       help="storage of the output bag: sqlite3 (Humble's default) or mcap "
                            "(Jazzy's) (default: %(default)s)")
    add_overlay_arguments(group)
    add_progress_argument(group)
    parser.set_defaults(run=run_bag)


def output_selection(names: Optional[Sequence[str]], multi_person: bool) -> OutputSelection:
    """The outputs to write; names None = mask, part_labels, overlay (+ instances with multi_person)."""
    if names is None:
        names = ("mask", "part_labels", "overlay") + (("instances",) if multi_person else ())
    if "instances" in names and not multi_person:
        raise UsageError("--outputs instances needs --multi-person")
    return OutputSelection(**{name: name in names for name in OUTPUT_NAMES})


def output_topics(prefix: str, selection: OutputSelection) -> Dict[str, str]:
    """Output name -> absolute topic '<prefix>/<name>'."""
    namespace = "/" + prefix.strip("/") if prefix.strip("/") else ""
    return {name: f"{namespace}/{name}" for name in selection.names}


def import_rosbags():
    """(rosbags.rosbag2 module, ROS 2 Humble typestore); CliError when rosbags is missing."""
    missing = "reading bags needs rosbags: pip install rosbags (the bag extra)"
    rosbag2 = import_optional("rosbags.rosbag2", missing)
    typesys = import_optional("rosbags.typesys", missing)
    return rosbag2, typesys.get_typestore(typesys.Stores.ROS2_HUMBLE)


def open_bag(rosbag2, path: Path):
    """An open rosbags.rosbag2.Reader; UsageError if missing, CliError if unreadable."""
    if not path.exists():
        raise UsageError(f"no such bag: {path}")
    if path.suffix == ".bag":
        raise CliError(f"{path} is a ROS 1 bag; convert it first: rosbags-convert --src {path}")
    try:
        reader = rosbag2.Reader(path)
        reader.open()
    except (rosbag2.ReaderError, OSError) as error:
        raise CliError(f"cannot read bag {path}: {error}") from None
    return reader


def image_connections(reader, topic: str) -> list:
    """The bag connections of `topic`; UsageError naming the bag's image topics if none or not images."""
    connections = [connection for connection in reader.connections if connection.topic == topic]
    image_topics = sorted({f"{c.topic} ({c.msgtype})" for c in reader.connections if c.msgtype in DECODERS})
    choices = f"image topics in the bag: {', '.join(image_topics) or 'none'}"
    if not connections:
        raise UsageError(f"topic {topic} is not in the bag; {choices}")
    others = sorted({c.msgtype for c in connections if c.msgtype not in DECODERS})
    if others:
        raise UsageError(f"topic {topic} carries {', '.join(others)}, not {IMAGE_TYPE} or "
                         f"{COMPRESSED_IMAGE_TYPE}; {choices}")
    return connections


def create_bag(rosbag2, path: Path, storage: str):
    """A new bag at `path` (storage sqlite3 or mcap), open for writing; CliError if it cannot be created."""
    try:
        writer = rosbag2.Writer(path, version=BAG_FORMAT_VERSION,
                                storage_plugin=rosbag2.StoragePlugin[storage.upper()])
        writer.open()
    except (rosbag2.WriterError, OSError) as error:
        raise CliError(f"cannot create output bag {path}: {error}") from None
    return writer


def discard_bag(writer) -> None:
    """Close a bag writer after an error: abort (rosbags >= 0.11, no metadata written), else close."""
    getattr(writer, "abort", writer.close)()


def run_bag(args: argparse.Namespace) -> int:
    """Check options and bags, load the model, segment every image of --topic into --output-bag."""
    settings = settings_from_args(args)
    live = LiveConfig(settings, overlay_mode_from_args(args, settings), args.overlay_alpha, max_rate=0.0)
    selection = output_selection(args.outputs, settings.multi_person.enabled)
    topics = output_topics(args.topic_prefix, selection)
    if args.topic in topics.values():
        raise UsageError(f"output topic {args.topic} is the input topic; choose another --topic-prefix")
    if args.output_bag.exists():
        raise CliError(f"output bag {args.output_bag} exists already; "
                       f"remove it or choose another --output-bag")
    rosbag2, typestore = import_rosbags()
    reader = open_bag(rosbag2, args.input_bag)
    try:
        connections = image_connections(reader, args.topic)
        engine = load_engine(args)
        writer = create_bag(rosbag2, args.output_bag, args.storage)
        try:
            summary, interrupted = segment_bag_messages(
                engine, reader.messages(connections), typestore, writer, topics, selection, live,
                ProgressLog(sum(c.msgcount for c in connections), args.progress_every))
        except BaseException:
            discard_bag(writer)
            raise
        writer.close()
    finally:
        reader.close()
    print(f"{summary}; wrote {args.output_bag}", file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    return 0


def segment_bag_messages(engine, messages, typestore, writer, topics: Dict[str, str],
                         selection: OutputSelection, live: LiveConfig,
                         progress: ProgressLog) -> Tuple[str, bool]:
    """Segment (connection, timestamp ns, CDR bytes) image messages into `writer` on `topics`.

    Returns (one-line summary, whether Ctrl-C stopped it early: what was written stays valid).
    """
    image_type = typestore.types[IMAGE_TYPE]
    output_connections = {name: writer.add_connection(topic, IMAGE_TYPE, typestore=typestore)
                          for name, topic in topics.items()}
    skipped: Dict[str, int] = {}
    frames_in = written = 0
    try:
        for connection, timestamp, raw in messages:
            frames_in += 1
            started = time.perf_counter()
            message = typestore.deserialize_cdr(raw, connection.msgtype)
            frame = decode_or_skip(DECODERS[connection.msgtype], message, skipped)
            if frame is None:
                continue
            _, outputs = segment_frame(engine, frame, selection, live)
            for name, output in output_messages(image_type, message.header, outputs).items():
                writer.write(output_connections[name], timestamp, typestore.serialize_cdr(output, IMAGE_TYPE))
                written += 1
            stamp = message.header.stamp
            progress.frame_done(frames_in, f"stamp {stamp.sec}.{stamp.nanosec:09d}",
                                (time.perf_counter() - started) * 1000.0)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
    summary = (f"{frames_in} frames in, {progress.frames} segmented, {sum(skipped.values())} skipped"
               f"{f' ({reasons})' if reasons else ''}; {written} images written; {progress.mean()}")
    return summary, interrupted


def decode_or_skip(decode, message, skipped: Dict[str, int]) -> Optional[DecodedFrame]:
    """decode(message), or None after counting the frame in `skipped` (reason -> count).

    Warns once per unsupported encoding, and for every frame with bad data.
    """
    try:
        return decode(message)
    except UnsupportedEncodingError as error:
        if error.encoding not in skipped:
            LOGGER.warning("skipping frames: %s", error)
        skipped[error.encoding] = skipped.get(error.encoding, 0) + 1
    except ImageDataError as error:
        stamp = message.header.stamp
        LOGGER.warning("skipping frame stamped %d.%09d: %s", stamp.sec, stamp.nanosec, error)
        skipped["bad data"] = skipped.get("bad data", 0) + 1
    return None


# ---- video -------------------------------------------------------------------------------------

def add_video_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "video", help="segment a video file into an overlay video (and per-frame PNGs)",
        description="Segment the frames of a video file (read with OpenCV) and write OUT/STEM.overlay.mp4 "
                    "(.avi with --codec MJPG) at the input frame rate / --every; with --frames also the PNGs of "
                    "'bodypix-ros segment' per frame, named STEM.NNNNNN.* (NNNNNN = frame index from 0).")
    parser.add_argument("input_video", type=Path, metavar="INPUT_VIDEO")
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR")
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("frames")
    group.add_argument("--every", type=positive_int, default=1, metavar="N",
                       help="segment every Nth frame (default: %(default)s)")
    group.add_argument("--max-frames", type=positive_int, metavar="N",
                       help="stop after segmenting N frames (default: all)")
    group = parser.add_argument_group("output")
    add_overlay_arguments(group)
    group.add_argument("--codec", choices=VIDEO_CODECS, default="mp4v",
                       help="overlay video codec: mp4v (.mp4) or MJPG (.avi) (default: %(default)s)")
    group.add_argument("--frames", action="store_true",
                       help="also write each segmented frame's mask, parts, overlay (and instances, "
                            "persons.json) like 'bodypix-ros segment'")
    add_progress_argument(group)
    parser.set_defaults(run=run_video)


def video_frames(capture, every: int, max_frames: Optional[int]) -> Iterator[Tuple[int, np.ndarray]]:
    """(source frame index from 0, (H, W, 3) uint8 RGB) of every `every`-th frame of an opened
    cv2.VideoCapture, at most `max_frames` (None = all); skipped frames are not decoded."""
    index = yielded = 0
    while (max_frames is None or yielded < max_frames) and capture.grab():
        if index % every == 0:
            ok, bgr = capture.retrieve()
            if not ok:
                return
            yield index, swap_red_blue(bgr)
            yielded += 1
        index += 1


def run_video(args: argparse.Namespace) -> int:
    """Check options and input, load the model, segment the frames and write the overlay video."""
    settings = settings_from_args(args)
    live = LiveConfig(settings, overlay_mode_from_args(args, settings), args.overlay_alpha, max_rate=0.0)
    # what the overlay (and, with --frames, the PNGs) need: no part labels or person decode otherwise
    request = engine_request(OutputSelection(mask=True, part_labels=args.frames, instances=args.frames,
                                             overlay=True), live)
    if not args.input_video.is_file():
        raise UsageError(f"no such file: {args.input_video}")
    import cv2

    capture = cv2.VideoCapture(str(args.input_video))
    writer = None
    try:
        if not capture.isOpened():
            raise CliError(f"cannot open video {args.input_video} (not a video, or a codec OpenCV lacks)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        expected = -(-frame_count // args.every) if frame_count > 0 else None
        if expected and args.max_frames:
            expected = min(expected, args.max_frames)
        make_output_dir(args.output_dir)
        engine = load_engine(args)
        stem = args.input_video.stem
        video_path = args.output_dir / f"{stem}.overlay{VIDEO_CODECS[args.codec]}"
        output_fps = (fps if fps > 0 else DEFAULT_FPS) / args.every
        progress = ProgressLog(expected, args.progress_every)
        files = 0
        for number, (index, frame) in enumerate(video_frames(capture, args.every, args.max_frames), start=1):
            started = time.perf_counter()
            result = engine.segment(frame, settings, part_labels=request.part_labels,
                                    instances=request.instances)
            overlay = render_overlay(frame, result, live.overlay_mode, live.overlay_alpha)
            if writer is None:
                writer = open_video_writer(cv2, video_path, args.codec, output_fps, frame.shape[:2])
            writer.write(swap_red_blue(overlay))
            if args.frames:
                files += len(write_outputs(args.output_dir, f"{stem}.{index:06d}", result, overlay,
                                           engine.model_name))
            progress.frame_done(number, f"frame {index}", (time.perf_counter() - started) * 1000.0)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise CliError(f"no frame could be read from {args.input_video}")
    pngs = f" and {files} frame files" if args.frames else ""
    print(f"{progress.frames} frames segmented (every {args.every}); {progress.mean()}; "
          f"wrote {video_path}{pngs}", file=sys.stderr)
    return 0


def open_video_writer(cv2, path: Path, codec: str, fps: float, frame_size: Tuple[int, int]):
    """An opened cv2.VideoWriter for (H, W) BGR frames; CliError if OpenCV cannot write it."""
    height, width = frame_size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise CliError(f"OpenCV cannot write {codec} video {path}")
    return writer
