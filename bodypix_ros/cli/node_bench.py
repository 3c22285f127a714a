"""`bodypix-ros bench-node`: latency of a running segment node.

Publishes one photo as rgb8 frames (default 640x480) at a fixed rate (default 30 Hz for 60 s)
on the node's input topic, each stamped with the ROS clock, and subscribes to its outputs
(default mask, part_labels, overlay under /bodypix). A frame counts as delivered when every
subscribed output with its stamp has arrived; its latency is stamp -> last arrival. Reports
p50/p95 latency, throughput, drop rate, and the node process's CPU use (--node-pid) while
subscribed and then with no subscriber (the node should then skip inference).

Needs ROS 2 (rclpy, sensor_msgs); rclpy is imported only when the benchmark runs, and this
module never imports TensorFlow.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from bodypix_ros.cli.bench import bench_photo, resize_frame
from bodypix_ros.cli.common import (
    non_negative_float,
    output_list,
    positive_float,
    positive_int,
    write_text,
)
from bodypix_ros.errors import CliError
from bodypix_ros.frame_outputs import OUTPUT_NAMES
from bodypix_ros.ros.image_codec import byte_array, color_fields
from bodypix_ros.ros.outputs import output_messages
from bodypix_ros.ros.runtime import stamp_ns

DEFAULT_OUTPUTS = ("mask", "part_labels", "overlay")
DRAIN_S = 2.0
"""Seconds to keep listening after the last frame, for outputs still in flight."""
DISCOVERY_TIMEOUT_S = 30.0
"""Seconds to wait for the node (it loads TensorFlow and the model before it subscribes)."""


# ---- ROS-free parts ----------------------------------------------------------------------------

def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (psutil if installed, else /proc/<pid>/stat)."""
    try:
        import psutil
    except ImportError:
        return proc_stat_cpu_seconds(pid)
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error as error:
        raise CliError(f"cannot read the CPU time of process {pid}: {error}") from None
    return times.user + times.system


def proc_stat_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` from Linux /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError as error:
        raise CliError(f"cannot read the CPU time of process {pid}: {error.strerror}") from None
    # after the ')' closing the command name come fields 3 (state) ...; utime is 14, stime 15 (1-based)
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delivery_report(published_ns: Sequence[int], arrivals: Mapping[int, Dict[str, int]],
                    outputs: Sequence[str], duration_s: float) -> dict:
    """Latency, throughput and drops of one measured phase.

    published_ns: header stamps (ns) of the frames published in the phase; arrivals:
    stamp -> {output name: arrival time (ns, same clock)}; a frame is delivered when all
    `outputs` arrived. duration_s: length of the publishing phase.
    """
    latencies = [max(arrivals[stamp][name] for name in outputs) - stamp
                 for stamp in published_ns if set(outputs) <= set(arrivals.get(stamp, {}))]
    latencies_ms = np.asarray(latencies, dtype=np.float64) / 1e6
    published = len(published_ns)
    per_output = {name: sum(name in arrivals.get(stamp, {}) for stamp in published_ns) for name in outputs}
    report = {"published": published, "delivered": len(latencies), "received_per_output": per_output,
              "duration_s": round(duration_s, 3),
              "input_hz": round(published / duration_s, 2) if duration_s > 0 else 0.0,
              "throughput_hz": round(len(latencies) / duration_s, 2) if duration_s > 0 else 0.0,
              "drop_rate": round(1.0 - len(latencies) / published, 4) if published else None,
              "latency_ms": None}
    if latencies:
        p50, p95 = np.percentile(latencies_ms, [50, 95])
        report["latency_ms"] = {"p50": round(float(p50), 2), "p95": round(float(p95), 2),
                                "max": round(float(latencies_ms.max()), 2)}
    return report


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float:
    """CPU use in percent of one core."""
    return round(100.0 * cpu_seconds / wall_seconds, 1) if wall_seconds > 0 else 0.0


def published_frame(image: Optional[Path], width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 RGB: the bench photo (see `bench.bench_photo`) resized, PIL bilinear."""
    return resize_frame(bench_photo(image)[1], (width, height))


# ---- the ROS part ------------------------------------------------------------------------------

def run_node_bench(frame: np.ndarray, input_topic: str, output_topics: Mapping[str, str], rate_hz: float,
                   duration_s: float, warmup_s: float, idle_s: float, node_pid: Optional[int],
                   log=print) -> dict:
    """Publish `frame` at `rate_hz` to `input_topic`, measure the outputs; see the module docstring.

    output_topics: output name -> fully qualified topic. Frames of the first `warmup_s` seconds are
    published but not counted. Returns {'subscribed': delivery report (+ node CPU),
    'no_subscriber': node CPU} (CPU only with node_pid).
    """
    try:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import Header
    except ImportError as error:
        raise CliError(f"bench-node needs ROS 2 ({error.name} is not importable): "
                       f"source /opt/ros/<distro>/setup.bash first") from None

    rclpy.init()
    node = rclpy.create_node("bodypix_node_bench")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        publisher = node.create_publisher(Image, input_topic, QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE))
        message = output_messages(Image, Header(frame_id="bodypix_node_bench"), {"frame": color_fields(frame)},
                                  byte_array)["frame"]
        arrivals: Dict[int, Dict[str, int]] = {}

        def on_output(name):
            def record(output):
                stamp = output.header.stamp
                arrivals.setdefault(stamp_ns(stamp.sec, stamp.nanosec), {})[name] = node.get_clock().now().nanoseconds
            return record

        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                                reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        subscriptions = [node.create_subscription(Image, topic, on_output(name), output_qos)
                         for name, topic in output_topics.items()]
        _wait_for_graph(node, publisher, output_topics, log)

        published_ns = []

        def publish():
            now = node.get_clock().now()
            message.header.stamp = now.to_msg()
            publisher.publish(message)
            published_ns.append(now.nanoseconds)

        log(f"publishing {frame.shape[1]}x{frame.shape[0]} frames at {rate_hz} Hz to {input_topic}: "
            f"{warmup_s} s warm-up, {duration_s} s measured")
        timer = node.create_timer(1.0 / rate_hz, publish)
        _spin_for(executor, warmup_s)
        published_ns.clear()
        cpu_start, started = _cpu(node_pid), time.monotonic()
        _spin_for(executor, duration_s)
        measured_stamps, elapsed = list(published_ns), time.monotonic() - started
        cpu_used = _cpu(node_pid) - cpu_start if node_pid else None
        node.destroy_timer(timer)
        _spin_for(executor, DRAIN_S)
        report = {"subscribed": delivery_report(measured_stamps, arrivals, list(output_topics), elapsed)}
        if node_pid:
            report["subscribed"]["node_cpu_percent"] = cpu_percent(cpu_used, elapsed)
            for subscription in subscriptions:
                node.destroy_subscription(subscription)
            log(f"no subscriber: publishing for {idle_s} s to measure the idle node's CPU use")
            timer = node.create_timer(1.0 / rate_hz, publish)
            _spin_for(executor, 1.0)
            cpu_start, started = _cpu(node_pid), time.monotonic()
            _spin_for(executor, idle_s)
            report["no_subscriber"] = {"node_cpu_percent": cpu_percent(_cpu(node_pid) - cpu_start,
                                                                       time.monotonic() - started)}
            node.destroy_timer(timer)
        return report
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


def _cpu(pid: Optional[int]) -> float:
    return process_cpu_seconds(pid) if pid else 0.0


def _spin_for(executor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=min(0.05, max(deadline - time.monotonic(), 0.0)))


def _wait_for_graph(node, publisher, output_topics: Mapping[str, str], log) -> None:
    """Wait until the node subscribes to our frames and publishes every output topic; CliError naming
    what is missing after DISCOVERY_TIMEOUT_S."""
    deadline, waited = time.monotonic() + DISCOVERY_TIMEOUT_S, False
    while True:
        problems = []
        if publisher.get_subscription_count() == 0:
            problems.append(f"nothing subscribes to {publisher.topic_name} (check --input-topic)")
        missing = [topic for topic in output_topics.values() if node.count_publishers(topic) == 0]
        if missing:
            problems.append(f"nothing publishes {', '.join(missing)} (check --node and --outputs against "
                            f"the node's *_topic parameters)")
        if not problems:
            return
        if not waited:
            log(f"waiting up to {DISCOVERY_TIMEOUT_S:g} s: {'; '.join(problems)}")
            waited = True
        if time.monotonic() >= deadline:
            raise CliError(f"after {DISCOVERY_TIMEOUT_S:g} s {'; '.join(problems)}: start the node first "
                           f"(ros2 run bodypix_ros segment_node)")
        time.sleep(0.1)


# ---- command line ------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register `bench-node` (the ROS node latency benchmark, needs rclpy)."""
    parser = subparsers.add_parser(
        "bench-node",
        help="latency, throughput and CPU use of a running segment node (needs ROS 2)",
        description="Publish frames to a running segment node at a fixed rate and report "
                    "end-to-end latency (p50/p95, from the header stamp), throughput, drop rate "
                    "and the node's CPU use with and without subscribers.")
    add_node_bench_arguments(parser)
    parser.set_defaults(run=run_node_bench_command)


def add_node_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `bodypix-ros bench-node`."""
    parser.add_argument("--node", default="/bodypix", metavar="NAME",
                        help="fully qualified name of the segment node; outputs are NAME/<output> "
                             "(default: %(default)s)")
    parser.add_argument("--input-topic", default="/image", metavar="TOPIC",
                        help="the node's input topic (default: %(default)s)")
    parser.add_argument("--outputs", type=output_list, default=",".join(DEFAULT_OUTPUTS), metavar="NAMES",
                        help=f"outputs to subscribe to, of {', '.join(OUTPUT_NAMES)} (default: %(default)s)")
    parser.add_argument("--image", type=Path, metavar="PHOTO",
                        help="photo to publish, resized (default: as for `bench`)")
    parser.add_argument("--width", type=positive_int, default=640, help="frame width (default: %(default)s)")
    parser.add_argument("--height", type=positive_int, default=480, help="frame height (default: %(default)s)")
    parser.add_argument("--rate", type=positive_float, default=30.0, metavar="HZ",
                        help="publish rate (default: %(default)s)")
    parser.add_argument("--duration", type=positive_float, default=60.0, metavar="S",
                        help="measured seconds (default: %(default)s)")
    parser.add_argument("--warmup", type=non_negative_float, default=5.0, metavar="S",
                        help="seconds published first and not counted (default: %(default)s)")
    parser.add_argument("--idle-duration", type=positive_float, default=10.0, metavar="S",
                        help="seconds without subscriber for the idle CPU measurement (default: %(default)s)")
    parser.add_argument("--node-pid", type=positive_int, metavar="PID",
                        help="process id of the node, to measure its CPU use (e.g. pgrep -f segment_node)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")


def run_node_bench_command(args: argparse.Namespace) -> int:
    """Run the benchmark the options describe, print the report (and write --json); exit status."""
    if args.node_pid is not None:
        process_cpu_seconds(args.node_pid)  # fail before publishing if the pid is wrong
    frame = published_frame(args.image, args.width, args.height)
    topics = {name: f"{args.node.rstrip('/')}/{name}" for name in args.outputs}
    report = run_node_bench(frame, args.input_topic, topics, args.rate, args.duration, args.warmup,
                            args.idle_duration, args.node_pid, log=_progress)
    report["settings"] = {"input_topic": args.input_topic, "outputs": topics, "rate_hz": args.rate,
                          "duration_s": args.duration, "frame_size": f"{args.width}x{args.height}"}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        write_text(args.json, text + "\n")
    return 0


def _progress(message: str) -> None:
    print(f"bench-node: {message}", file=sys.stderr, flush=True)
