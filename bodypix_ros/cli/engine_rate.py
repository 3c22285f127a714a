"""The engine alone on bench-node's frame: `python -m bodypix_ros.cli.engine_rate` (a subprocess).

bench-node imports rclpy, so the engine's rate is measured in this separate process (it
imports TensorFlow). Each iteration does the node's per-frame work without ROS: decode the
rgb8 frame, segment it and build the selected outputs' images, with the node's default
parameters. Prints one JSON object: frames, frames_per_s, frame_ms {p50, p95}.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bodypix_ros.cli.bench import bench_photo, resize_frame
from bodypix_ros.cli.common import (
    add_model_arguments,
    load_engine,
    output_list,
    positive_float,
    positive_int,
)
from bodypix_ros.frame_outputs import OutputSelection, segment_frame
from bodypix_ros.ros.image_codec import color_fields, decode_image
from bodypix_ros.ros.outputs import output_fields
from bodypix_ros.ros.params import PARAMETERS, live_config

WARMUP_FRAMES = 3


def measure_engine_rate(engine, frame: np.ndarray, outputs, duration_s: float) -> dict:
    """The engine's rate on the node's per-frame work -> {frames, frames_per_s, frame_ms}.

    Decodes `frame` ((H, W, 3) uint8 RGB, as rgb8 fields), segments it and builds the `outputs`
    images in a loop for `duration_s` seconds after WARMUP_FRAMES untimed; frame_ms: p50, p95.
    """
    fields = color_fields(frame)
    selection = OutputSelection.of(outputs)
    live = live_config({spec.name: spec.default for spec in PARAMETERS})

    def node_work():
        decoded = decode_image(fields)
        images = segment_frame(engine, decoded.rgb, selection, live).images
        output_fields(images, decoded, fields)

    for _ in range(WARMUP_FRAMES):
        node_work()
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration_s:
        begin = time.perf_counter()
        node_work()
        times.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    p50, p95 = np.percentile(np.asarray(times) * 1000.0, [50, 95])
    return {"frames": len(times), "frames_per_s": round(len(times) / elapsed, 2),
            "frame_ms": {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bodypix_ros.cli.engine_rate",
                                     description=__doc__.split("\n\n", 1)[0])
    add_model_arguments(parser)
    parser.add_argument("--image", type=Path)
    parser.add_argument("--width", type=positive_int, default=640)
    parser.add_argument("--height", type=positive_int, default=480)
    parser.add_argument("--outputs", type=output_list, default="mask")
    parser.add_argument("--duration", type=positive_float, default=10.0)
    args = parser.parse_args(argv)
    engine = load_engine(args)
    frame = resize_frame(bench_photo(args.image)[1], (args.width, args.height))
    print(json.dumps(measure_engine_rate(engine, frame, args.outputs, args.duration)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
