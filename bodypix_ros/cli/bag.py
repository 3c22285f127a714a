"""`bodypix-ros bag`: the engine on a recorded ROS 2 bag, no ROS installation needed.

Reads sensor_msgs/msg/Image or CompressedImage messages of one topic from a rosbag2 (sqlite3
or mcap, read with `rosbags`), decodes them with the node's `ros.image_codec`, segments them
through `frame_outputs.segment_frame` and writes the node's output images as
sensor_msgs/msg/Image into a new bag on `<prefix>/<output name>`, each with its input's header
and bag timestamp. Messages that cannot be deserialized, and frames the codec refuses
(--max-input-pixels included), are skipped, counted by cause (`ros.rejects`) and warned once
per cause. The output is written under a temporary name next to OUT_BAG and moved there once
closed: a run that fails leaves nothing behind, one stopped by Ctrl-C a valid bag of the
frames done. With --anonymize it writes instead a copy of the whole bag with the image topics
anonymized (`cli.bag_anonymize`).
"""

import argparse
import contextlib
import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

from bodypix_ros.cli.common import (
    LOGGER,
    ProgressLog,
    add_anonymize_arguments,
    add_model_arguments,
    add_overlay_arguments,
    add_pixel_budget_argument,
    add_progress_argument,
    add_settings_arguments,
    import_optional,
    load_engine,
    make_output_dir,
    output_list,
    render_config_from_args,
    settings_from_args,
)
from bodypix_ros.errors import CliError, DecodeError, MessageDataError, UsageError
from bodypix_ros.frame_outputs import OUTPUT_NAMES, OutputSelection, RenderConfig, segment_frame
from bodypix_ros.ros.image_codec import (
    JPEG_QUALITY,
    DecodedFrame,
    decode_compressed,
    decode_image,
)
from bodypix_ros.ros.outputs import output_fields, output_messages
from bodypix_ros.ros.rejects import MAX_REASON_CHARS, RejectLog, reject_cause, shorten

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
DECODERS = {IMAGE_TYPE: decode_image, COMPRESSED_IMAGE_TYPE: decode_compressed}
"""Input message type -> image_codec decoder."""

DEFAULT_TOPIC_PREFIX = "/bodypix"
BAG_STORAGES = ("sqlite3", "mcap")
BAG_FORMAT_VERSION = 8
"""rosbag2 metadata version written (the oldest `rosbags` writes)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bag", help="segment the images of a recorded ROS 2 bag into a new bag",
        description="Segment the sensor_msgs/msg/Image or CompressedImage (JPEG/PNG) messages of "
                    "TOPIC in a rosbag2 (sqlite3 or mcap) and write sensor_msgs/msg/Image outputs, "
                    "as the segment node publishes them, into a new bag on PREFIX/mask (mono8 "
                    "0/255), PREFIX/part_labels (mono8, k+1 = part k), PREFIX/instances (mono8, "
                    "i = person i) and PREFIX/overlay (rgb8, bgr8 for blue-first input), each "
                    "with its input's header and bag timestamp. With --anonymize: a copy of the "
                    "whole bag (every topic, message, timestamp and QoS profile) in which the "
                    "--topic image topics (default: all) carry the anonymized frames in their "
                    "own encoding. Needs rosbags (pip install rosbags: the bag extra); no ROS "
                    "installation.")
    parser.add_argument("input_bag", type=Path, metavar="INPUT_BAG",
                        help="rosbag2 folder, or its .db3 or .mcap file")
    parser.add_argument("--topic", action="append", metavar="TOPIC",
                        help="image topic to segment, e.g. /camera/image_raw; with --anonymize "
                             "repeatable (default: every image topic)")
    parser.add_argument("--output-bag", required=True, type=Path, metavar="OUT_BAG",
                        help="rosbag2 folder to create (must not exist)")
    add_pixel_budget_argument(parser)
    add_model_arguments(parser)
    add_settings_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--outputs", type=output_list, metavar="NAME[,NAME...]",
                       help=f"outputs to write, from {','.join(OUTPUT_NAMES)} (default: mask,"
                            f"part_labels,overlay, and instances with --multi-person)")
    group.add_argument("--topic-prefix", default=DEFAULT_TOPIC_PREFIX, metavar="PREFIX",
                       help="namespace of the output topics (default: %(default)s)")
    group.add_argument("--storage", choices=BAG_STORAGES,
                       help="storage of the output bag: sqlite3 (Humble's default) or mcap "
                            "(Jazzy's) (default: sqlite3; with --anonymize the input's)")
    add_overlay_arguments(group)
    add_progress_argument(group)
    add_anonymize_arguments(
        parser.add_argument_group("privacy"),
        f"write a copy of the whole bag with the image topics' frames anonymized, in their own "
        f"encoding (JPEG re-encoded at quality {JPEG_QUALITY}); other topics byte-identical")
    parser.set_defaults(run=run_bag)


def output_selection(names: Optional[Sequence[str]], multi_person: bool) -> OutputSelection:
    """The outputs to write; names None = mask, part_labels, overlay (+ instances with multi_person)."""
    if names is None:
        names = ("mask", "part_labels", "overlay") + (("instances",) if multi_person else ())
    if "instances" in names and not multi_person:
        raise UsageError("--outputs instances needs --multi-person")
    return OutputSelection.of(names)


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


@contextlib.contextmanager
def staged_bag(rosbag2, path: Path, storage: str) -> Iterator:
    """A writer of a new bag staged next to `path`, moved to `path` when the block ends normally.

    The writer is always closed (a valid bag with its metadata.yaml); on an exception the
    staged bag is removed, so nothing is left at `path` and a re-run is not blocked.
    """
    make_output_dir(path.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        writer = create_bag(rosbag2, staging / path.name, storage)
        try:
            yield writer
        finally:
            writer.close()
        try:
            (staging / path.name).rename(path)
        except OSError as error:
            raise CliError(f"cannot move the finished bag to {path}: {error.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_bag(args: argparse.Namespace) -> int:
    """Check options and bags, load the model, segment every image of --topic into --output-bag."""
    settings = settings_from_args(args)
    config = render_config_from_args(args, settings)
    if args.anonymize:
        from bodypix_ros.cli.bag_anonymize import run_anonymize_bag

        return run_anonymize_bag(args, config)
    if not args.topic or len(args.topic) > 1:
        raise UsageError("give exactly one --topic to segment (several only with --anonymize)")
    args.topic = args.topic[0]
    selection = output_selection(args.outputs, settings.multi_person.enabled)
    topics = output_topics(args.topic_prefix, selection)
    if args.topic in topics.values():
        raise UsageError(f"output topic {args.topic} is the input topic; choose another --topic-prefix")

    def prepare(reader, typestore, decoders):
        connections = image_connections(reader, args.topic)
        engine = load_engine(args)
        progress = ProgressLog(sum(c.msgcount for c in connections), args.progress_every)
        return lambda writer: segment_bag_messages(
            engine, reader.messages(connections), typestore, writer, topics, selection, config,
            progress, decoders)

    return write_new_bag(args, prepare, args.storage or BAG_STORAGES[0])


def write_new_bag(args: argparse.Namespace, prepare, storage: Optional[str]) -> int:
    """Read --input-bag into a new --output-bag; the shared frame of both bag modes.

    prepare(reader, typestore, decoders) checks the input and returns work(writer) -> (one-line
    summary, whether Ctrl-C stopped it); decoders: message type -> image_codec decoder with the
    --max-input-pixels budget; storage None = the input bag's. The output is staged
    (`staged_bag`): a failed run leaves nothing.
    """
    if args.output_bag.exists():
        raise CliError(f"output bag {args.output_bag} exists already; "
                       f"remove it or choose another --output-bag")
    rosbag2, typestore = import_rosbags()
    reader = open_bag(rosbag2, args.input_bag)
    decoders = {msgtype: functools.partial(decode, max_pixels=args.max_input_pixels)
                for msgtype, decode in DECODERS.items()}
    try:
        work = prepare(reader, typestore, decoders)
        with staged_bag(rosbag2, args.output_bag, storage or storage_of(args.input_bag)) as writer:
            summary, interrupted = work(writer)
    finally:
        reader.close()
    print(f"{summary}; wrote {args.output_bag}", file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    return 0


def storage_of(path: Path) -> str:
    """The storage of the bag at `path` (folder or file): mcap if it is or holds .mcap files,
    else sqlite3.
    """
    mcap = path.suffix == ".mcap" or (path.is_dir() and any(path.glob("*.mcap")))
    return "mcap" if mcap else "sqlite3"


def segment_bag_messages(engine, messages, typestore, writer, topics: Dict[str, str],
                         selection: OutputSelection, config: RenderConfig,
                         progress: ProgressLog, decoders: Dict) -> Tuple[str, bool]:
    """Segment (connection, timestamp ns, CDR bytes) image messages into `writer` on `topics`.

    decoders: message type -> image_codec decoder. Messages that cannot be deserialized or
    decoded are skipped, counted and warned once per cause.
    Returns (one-line summary, whether Ctrl-C stopped it early: what was written stays valid).
    """
    image_type = typestore.types[IMAGE_TYPE]
    output_connections = {name: writer.add_connection(topic, IMAGE_TYPE, typestore=typestore)
                          for name, topic in topics.items()}
    rejects = RejectLog()
    frames_in = written = 0
    try:
        for connection, timestamp, raw in messages:
            frames_in += 1
            started = time.perf_counter()
            decoded = decode_or_skip(typestore, connection.msgtype, timestamp, raw,
                                     decoders[connection.msgtype], rejects)
            if decoded is None:
                continue
            message, frame = decoded
            images = segment_frame(engine, frame.rgb, selection, config).images
            outputs = output_fields(images, frame, message)
            for name, output in output_messages(image_type, message.header, outputs).items():
                writer.write(output_connections[name], timestamp, typestore.serialize_cdr(output, IMAGE_TYPE))
                written += 1
            stamp = message.header.stamp
            progress.frame_done(frames_in, f"stamp {stamp.sec}.{stamp.nanosec:09d}",
                                (time.perf_counter() - started) * 1000.0)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    reasons = rejects.summary()
    summary = (f"{frames_in} frames in, {progress.frames} segmented, {rejects.total} skipped"
               f"{f' ({reasons})' if reasons else ''}; {written} images written; {progress.mean()}")
    return summary, interrupted


def decode_or_skip(typestore, msgtype: str, timestamp: int, raw, decode,
                   rejects: RejectLog) -> Optional[Tuple[object, DecodedFrame]]:
    """(message, decode(message)) of CDR bytes `raw`, or None if it cannot be decoded.

    A frame refused is counted in `rejects`, warned once per cause with its bag time in ns.
    """
    try:
        message = deserialize(typestore, raw, msgtype)
        return message, decode(message)
    except DecodeError as error:
        if rejects.note(error):
            LOGGER.warning("skipping frames (%s), first at bag time %d ns: %s",
                           reject_cause(error), timestamp, shorten(str(error), MAX_REASON_CHARS))
    return None


def deserialize(typestore, raw, msgtype: str):
    """typestore.deserialize_cdr(raw, msgtype), any failure raised as MessageDataError.

    rosbags raises SerdeError, struct.error, UnicodeDecodeError... on corrupt bytes.
    """
    try:
        return typestore.deserialize_cdr(raw, msgtype)
    except Exception as error:  # a deserializer on untrusted bytes: any failure is bad data
        raise MessageDataError(f"cannot deserialize a {msgtype} message: "
                               f"{str(error) or type(error).__name__}") from None
