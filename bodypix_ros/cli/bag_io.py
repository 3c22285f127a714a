"""Reading and writing rosbag2 bags for `bodypix-ros bag` (both modes), with `rosbags`, no ROS.

Image messages are decoded with the node's `ros.image_codec`; messages that cannot be
deserialized and frames it refuses are counted by cause (`ros.rejects`) and warned once per
cause. A new bag is written staged and renamed when complete.
"""

import argparse
import contextlib
import functools
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Tuple

from bodypix_ros.cli.common import LOGGER, import_optional, make_output_dir
from bodypix_ros.errors import CliError, DecodeError, MessageDataError, UsageError
from bodypix_ros.ros.image_codec import DecodedFrame, decode_compressed, decode_image
from bodypix_ros.ros.rejects import MAX_REASON_CHARS, RejectLog, reject_cause, shorten

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
DECODERS = {IMAGE_TYPE: decode_image, COMPRESSED_IMAGE_TYPE: decode_compressed}
"""Input message type -> image_codec decoder."""
BAG_STORAGES = ("sqlite3", "mcap")
BAG_FORMAT_VERSION = 8
"""rosbag2 metadata version written (the oldest `rosbags` writes)."""


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
    """The bag connections of `topic`.

    UsageError naming the bag's image topics if there are none or they are not images.
    """
    connections = [connection for connection in reader.connections if connection.topic == topic]
    image_topics = sorted({f"{c.topic} ({c.msgtype})" for c in reader.connections
                           if c.msgtype in DECODERS})
    choices = f"image topics in the bag: {', '.join(image_topics) or 'none'}"
    if not connections:
        raise UsageError(f"topic {topic} is not in the bag; {choices}")
    others = sorted({c.msgtype for c in connections if c.msgtype not in DECODERS})
    if others:
        raise UsageError(f"topic {topic} carries {', '.join(others)}, not {IMAGE_TYPE} or "
                         f"{COMPRESSED_IMAGE_TYPE}; {choices}")
    return connections


def create_bag(rosbag2, path: Path, storage: str):
    """A new bag at `path` (storage sqlite3 or mcap), open for writing.

    CliError if it cannot be created.
    """
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
