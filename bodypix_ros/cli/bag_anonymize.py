"""`bodypix-ros bag --anonymize`: a copy of a whole bag with its image topics anonymized.

Every connection is copied with its topic, type, message definition, type hash, serialization
format and offered QoS profiles; every message keeps its bag timestamp and order. Messages of
the chosen image topics (sensor_msgs/msg/Image or CompressedImage) are decoded, segmented,
covered (`anonymize.py`) and written back in their own encoding (`ros.image_codec.reencode_*`);
all other messages are copied byte for byte. An image the codec refuses is dropped (never copied
raw), counted and warned once per cause.
"""

import argparse
import dataclasses
import time
from typing import Dict, Sequence, Tuple

import numpy as np

from bodypix_ros.cli.bag_io import (
    COMPRESSED_IMAGE_TYPE,
    DECODERS,
    IMAGE_TYPE,
    decode_or_skip,
    image_connections,
    write_new_bag,
)
from bodypix_ros.cli.common import ProgressLog, load_engine
from bodypix_ros.errors import CliError, UsageError
from bodypix_ros.frame_outputs import OutputSelection, RenderConfig, segment_frame
from bodypix_ros.ros.image_codec import reencode_compressed, reencode_image
from bodypix_ros.ros.rejects import RejectLog

ANONYMIZED = OutputSelection.of(("anonymized",))


def run_anonymize_bag(args: argparse.Namespace, config: RenderConfig) -> int:
    """Check the topics, load the model and write the anonymized copy of --input-bag."""

    def prepare(reader, typestore, decoders):
        chosen = chosen_connections(reader, args.topic)
        engine = load_engine(args)
        progress = ProgressLog(sum(c.msgcount for c in chosen), args.progress_every)
        return lambda writer: copy_anonymized(engine, reader, typestore, writer,
                                              {c.id for c in chosen}, config, progress, decoders)

    return write_new_bag(args, prepare, args.storage)


def chosen_connections(reader, topics: Sequence[str]) -> list:
    """The image connections to anonymize: those of `topics`, or every image connection (None).

    UsageError when a topic is missing or not images, or the bag has no image topic.
    """
    if topics:
        return [c for topic in dict.fromkeys(topics) for c in image_connections(reader, topic)]
    chosen = [c for c in reader.connections if c.msgtype in DECODERS]
    if not chosen:
        raise UsageError(f"the bag has no {IMAGE_TYPE} or {COMPRESSED_IMAGE_TYPE} topic to "
                         f"anonymize")
    return chosen


def copy_connections(reader, writer, typestore) -> Dict[int, object]:
    """Add every connection of `reader` to `writer` as it is -> {input id: output connection}."""
    copies = {}
    for connection in reader.connections:
        definition = connection.msgdef.data if connection.msgdef else ""
        known = bool(definition and connection.digest)
        if not known and connection.msgtype not in typestore.types:
            raise CliError(f"topic {connection.topic}: the bag stores no definition of "
                           f"{connection.msgtype} and rosbags does not know it")
        copies[connection.id] = writer.add_connection(
            connection.topic, connection.msgtype, typestore=None if known else typestore,
            msgdef=definition if known else None, rihs01=connection.digest if known else None,
            serialization_format=connection.ext.serialization_format,
            offered_qos_profiles=connection.ext.offered_qos_profiles)
    return copies


def copy_anonymized(engine, reader, typestore, writer, chosen_ids, config: RenderConfig,
                    progress: ProgressLog, decoders: Dict) -> Tuple[str, bool]:
    """Copy every message of `reader` into `writer`, anonymizing the connections `chosen_ids`.

    decoders: message type -> image_codec decoder (with the pixel budget).

    Returns (one-line summary, whether Ctrl-C stopped it early: what was written stays valid).
    """
    copies = copy_connections(reader, writer, typestore)
    rejects = RejectLog()
    copied = images = 0
    try:
        for connection, timestamp, raw in reader.messages():
            if connection.id in chosen_ids:
                started = time.perf_counter()
                images += 1
                raw = anonymized_cdr(engine, typestore, connection.msgtype, timestamp, raw,
                                     config, rejects, decoders[connection.msgtype])
                if raw is None:
                    continue
                progress.frame_done(images, f"{connection.topic} at {timestamp} ns",
                                    (time.perf_counter() - started) * 1000.0)
            writer.write(copies[connection.id], timestamp, raw)
            copied += 1
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    reasons = rejects.summary()
    summary = (f"{copied} messages copied on {len(copies)} topics; {progress.frames} of {images} "
               f"images anonymized, {rejects.total} dropped{f' ({reasons})' if reasons else ''}; "
               f"{progress.mean()}")
    return summary, interrupted


def anonymized_cdr(engine, typestore, msgtype: str, timestamp: int, raw, config: RenderConfig,
                   rejects: RejectLog, decode):
    """CDR bytes of an Image/CompressedImage message -> those of its anonymized copy.

    The copy keeps header, encoding and size; None when the codec refuses the image (counted in
    `rejects`).
    """
    decoded = decode_or_skip(typestore, msgtype, timestamp, raw, decode, rejects)
    if decoded is None:
        return None
    message, frame = decoded
    covered = segment_frame(engine, frame.rgb, ANONYMIZED, config).images["anonymized"]
    if msgtype == IMAGE_TYPE:
        data = reencode_image(message, frame.rgb, covered).data
    else:
        data = np.frombuffer(reencode_compressed(message, covered), np.uint8)
    return typestore.serialize_cdr(dataclasses.replace(message, data=data), msgtype)
