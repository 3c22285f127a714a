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
import time
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from bodypix_ros.cli.bag_anonymize import run_anonymize_bag
from bodypix_ros.cli.bag_io import (
    BAG_STORAGES,
    IMAGE_TYPE,
    decode_or_skip,
    image_connections,
    write_new_bag,
)
from bodypix_ros.cli.common import (
    ProgressLog,
    add_anonymize_arguments,
    add_model_arguments,
    add_overlay_arguments,
    add_pixel_budget_argument,
    add_progress_argument,
    add_settings_arguments,
    load_engine,
    output_list,
    render_config_from_args,
    settings_from_args,
)
from bodypix_ros.errors import UsageError
from bodypix_ros.frame_outputs import OUTPUT_NAMES, OutputSelection, RenderConfig, segment_frame
from bodypix_ros.ros.image_codec import JPEG_QUALITY
from bodypix_ros.ros.outputs import output_fields, output_messages
from bodypix_ros.ros.rejects import RejectLog

DEFAULT_TOPIC_PREFIX = "/bodypix"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bag",
        help="segment the images of a recorded ROS 2 bag into a new bag",
        description="Segment the sensor_msgs/msg/Image or CompressedImage (JPEG/PNG) messages of "
        "TOPIC in a rosbag2 (sqlite3 or mcap) and write sensor_msgs/msg/Image outputs, "
        "as the segment node publishes them, into a new bag on PREFIX/mask (mono8 "
        "0/255), PREFIX/part_labels (mono8, k+1 = part k), PREFIX/instances (mono8, "
        "i = person i) and PREFIX/overlay (rgb8, bgr8 for blue-first input), each "
        "with its input's header and bag timestamp. With --anonymize: a copy of the "
        "whole bag (every topic, message, timestamp and QoS profile) in which the "
        "--topic image topics (default: all) carry the anonymized frames in their "
        "own encoding. Needs rosbags (pip install rosbags: the bag extra); no ROS "
        "installation.",
    )
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
    """The outputs to write; names None = mask, part_labels, overlay (+ instances with
    multi_person).
    """
    if names is None:
        names = ("mask", "part_labels", "overlay") + (("instances",) if multi_person else ())
    if "instances" in names and not multi_person:
        raise UsageError("--outputs instances needs --multi-person")
    return OutputSelection.of(names)


def output_topics(prefix: str, selection: OutputSelection) -> Dict[str, str]:
    """Output name -> absolute topic '<prefix>/<name>'."""
    namespace = "/" + prefix.strip("/") if prefix.strip("/") else ""
    return {name: f"{namespace}/{name}" for name in selection.names}


def run_bag(args: argparse.Namespace) -> int:
    """Check options and bags, load the model, segment every image of --topic into --output-bag."""
    settings = settings_from_args(args)
    config = render_config_from_args(args, settings)
    if args.anonymize:
        return run_anonymize_bag(args, config)
    if not args.topic or len(args.topic) > 1:
        raise UsageError("give exactly one --topic to segment (several only with --anonymize)")
    args.topic = args.topic[0]
    selection = output_selection(args.outputs, settings.multi_person.enabled)
    topics = output_topics(args.topic_prefix, selection)
    if args.topic in topics.values():
        raise UsageError(
            f"output topic {args.topic} is the input topic; choose another --topic-prefix"
        )

    def prepare(reader, typestore, decoders):
        connections = image_connections(reader, args.topic)
        engine = load_engine(args)
        progress = ProgressLog(sum(c.msgcount for c in connections), args.progress_every)
        return lambda writer: segment_bag_messages(
            engine, reader.messages(connections), typestore, writer, topics, selection, config,
            progress, decoders)

    return write_new_bag(args, prepare, args.storage or BAG_STORAGES[0])


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
                cdr = typestore.serialize_cdr(output, IMAGE_TYPE)
                writer.write(output_connections[name], timestamp, cdr)
                written += 1
            stamp = message.header.stamp
            progress.frame_done(frames_in, f"stamp {stamp.sec}.{stamp.nanosec:09d}",
                                (time.perf_counter() - started) * 1000.0)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    reasons = rejects.summary()
    summary = (
        f"{frames_in} frames in, {progress.frames} segmented, {rejects.total} skipped"
        f"{f' ({reasons})' if reasons else ''}; {written} images written; {progress.mean()}"
    )
    return summary, interrupted


