"""`bodypix-ros bench-node`: what the segment node delivers under real DDS, beside its ceilings.

One command, one process tree, one frame (a photo resized, published as rgb8, default 640x480
at 30 Hz, stamped with the ROS clock), in phases that do not compete for the CPU:
1. engine alone: a subprocess (`bodypix_ros.cli.engine_rate`, which imports TensorFlow) does
   the node's per-frame work for the same outputs without ROS -> frames/s, ms per frame;
2. transport ceiling: a subprocess that only counts the frames it receives, with the node's
   input QoS, while this process publishes -> receive rate;
3. the node, started as a subprocess (or a running one: --node-pid), the outputs subscribed:
   its input and output rates, drops by cause (transport, replaced in its slot, rate limit,
   skipped, rejected, failed; from its /diagnostics counters), processing latency p50/p95
   (its diagnostics, last 100 frames), end-to-end latency p50/p95 (header stamp -> the last
   subscribed output's arrival here) and its CPU use; then, with no output subscribed, its
   CPU use again. With --counter-alongside the subscriber of phase 2 counts on through this
   phase: the transport's ceiling while the node loads the machine.
Headline: node output rate / min(engine alone, receive rate). It measures, never asserts.

rclpy is imported only inside the functions that run ROS; this module never imports TensorFlow.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set

import numpy as np

from bodypix_ros.cli.bench import bench_photo, resize_frame
from bodypix_ros.cli.common import (
    add_model_arguments,
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
from bodypix_ros.ros.params import PARAMETERS_BY_NAME, QOS_RELIABILITIES
from bodypix_ros.ros.runtime import diagnostic_name, stamp_ns

DEFAULT_OUTPUTS = ("mask", "part_labels", "overlay")
DRAIN_S = 2.0
"""Seconds to keep listening after the last frame, for outputs still in flight."""
DISCOVERY_TIMEOUT_S = 60.0
"""Seconds to wait for the node (it loads TensorFlow and the model before it subscribes)."""
NODE_COUNTS = {"received": "frames received", "processed": "frames processed",
               "lost": "frames lost in transport",
               "replaced": "frames dropped (replaced by newer)",
               "rate_limited": "frames dropped (rate limit)",
               "skipped": "frames skipped (no subscriber)", "rejected": "frames rejected",
               "failed": "frames failed"}
"""Count name -> key of the node's diagnostic value."""
NODE_LATENCIES = {"processing_ms": "processing latency",
                  "node_end_to_end_ms": "end-to-end latency"}


# ---- ROS-free parts ----------------------------------------------------------------------------

def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (psutil if installed, else /proc)."""
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
    # after the ')' closing the command name come fields 3 (state) ...; utime is 14, stime 15
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
    per_output = {name: sum(name in arrivals.get(stamp, {}) for stamp in published_ns)
                  for name in outputs}
    report = {"published": published, "delivered": len(latencies),
              "received_per_output": per_output, "duration_s": round(duration_s, 3),
              "input_hz": round(published / duration_s, 2) if duration_s > 0 else 0.0,
              "throughput_hz": round(len(latencies) / duration_s, 2) if duration_s > 0 else 0.0,
              "drop_rate": round(1.0 - len(latencies) / published, 4) if published else None,
              "latency_ms": None}
    if latencies:
        p50, p95 = np.percentile(latencies_ms, [50, 95])
        report["latency_ms"] = {"p50": round(float(p50), 2), "p95": round(float(p95), 2),
                                "max": round(float(latencies_ms.max()), 2)}
    return report


def node_side_report(published_ns: Sequence[int], first: tuple, last: tuple) -> dict:
    """The node's own view of a phase from two of its diagnostics: (stamp ns, {key: value}).

    Counts are the differences between the two; frames lost in transport are the frames
    published between the two stamps that the node did not receive. Latencies (ms, the node's
    last 100 frames) come from the later one.
    """
    (first_ns, first_values), (last_ns, last_values) = first, last
    seconds = (last_ns - first_ns) / 1e9
    counts = {name: int(last_values[key]) - int(first_values[key])
              for name, key in NODE_COUNTS.items() if key in last_values and key in first_values}
    published = sum(first_ns < stamp <= last_ns for stamp in published_ns)
    report = {"seconds": round(seconds, 3), "published": published, **counts,
              "transport_lost": max(published - counts["received"], 0),
              "input_hz": round(counts["received"] / seconds, 2) if seconds > 0 else 0.0,
              "output_hz": round(counts["processed"] / seconds, 2) if seconds > 0 else 0.0}
    for name, key in NODE_LATENCIES.items():
        report[name] = {quantile: _diagnostic_number(last_values.get(f"{key} {quantile} (ms)"))
                        for quantile in ("p50", "p95")}
    return report


def _diagnostic_number(text: Optional[str]) -> Optional[float]:
    return None if text in (None, "n/a") else float(text)


def headline(engine_alone: Optional[dict], receive: Optional[dict], node: dict) -> dict:
    """Node output rate / min(engine alone, receive rate); e2e p95 / engine ms per frame (p50)."""
    ceilings = [rate for rate in (engine_alone and engine_alone["frames_per_s"],
                                  receive and receive["receive_hz"]) if rate]
    result = {"ceiling_hz": min(ceilings) if ceilings else None, "output_ratio": None,
              "end_to_end_p95_per_engine_frame": None}
    if ceilings:
        result["output_ratio"] = round(node["throughput_hz"] / min(ceilings), 3)
    if engine_alone and node["latency_ms"]:
        result["end_to_end_p95_per_engine_frame"] = round(
            node["latency_ms"]["p95"] / engine_alone["frame_ms"]["p50"], 2)
    return result


def format_summary(report: dict) -> str:
    """The report's figures side by side, one per line."""
    engine, receive = report.get("engine_alone"), report.get("receive")
    node, side = report["subscribed"], report["subscribed"].get("node", {})
    lines = []

    def add(label, value, unit=""):
        lines.append(f"{label:<44} {'n/a' if value is None else value}{unit}")

    add("engine alone (frames/s)", engine and engine["frames_per_s"])
    add("engine alone ms per frame p50 / p95",
        engine and f"{engine['frame_ms']['p50']} / {engine['frame_ms']['p95']}")
    add("trivial subscriber receive rate (Hz)", receive and receive["receive_hz"])
    if "receive_alongside" in node:
        add("trivial subscriber beside the node (Hz)", node["receive_alongside"]["receive_hz"])
    add("published (Hz)", node["input_hz"])
    add("node input rate (Hz)", side.get("input_hz"))
    add("node output rate, all outputs here (Hz)", node["throughput_hz"])
    add("drops: transport / replaced / rate limit",
        side and f"{side['transport_lost']} / {side['replaced']} / {side.get('rate_limited')}")
    add("node processing ms p50 / p95",
        side and f"{side['processing_ms']['p50']} / {side['processing_ms']['p95']}")
    latency = node["latency_ms"]
    add("end-to-end ms p50 / p95", latency and f"{latency['p50']} / {latency['p95']}")
    idle = report.get("no_subscriber", {})
    add("node CPU subscribed / no subscriber (%)",
        f"{node.get('node_cpu_percent')} / {idle.get('node_cpu_percent')}")
    add("headline: output / min(engine, receive)", report["headline"]["output_ratio"])
    add("end-to-end p95 / engine ms per frame",
        report["headline"]["end_to_end_p95_per_engine_frame"])
    return "\n".join(lines)


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float:
    """CPU use in percent of one core."""
    return round(100.0 * cpu_seconds / wall_seconds, 1) if wall_seconds > 0 else 0.0


def published_frame(image: Optional[Path], width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 RGB: the bench photo (see `bench.bench_photo`) resized."""
    return resize_frame(bench_photo(image)[1], (width, height))


def node_qos(node_parameters: Mapping[str, str]) -> tuple:
    """(reliability, depth) of the node's input subscription given `NAME:=VALUE` overrides."""
    reliability = node_parameters.get("qos_reliability",
                                      PARAMETERS_BY_NAME["qos_reliability"].default)
    depth = int(node_parameters.get("qos_depth", PARAMETERS_BY_NAME["qos_depth"].default))
    return reliability, depth


def node_parameter(text: str) -> tuple:
    """Argparse type: 'NAME:=VALUE' -> (NAME, VALUE), as after `ros2 run ... -p`."""
    name, separator, value = text.partition(":=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:=VALUE")
    return name, value


# ---- subprocesses ------------------------------------------------------------------------------

def model_options(args: argparse.Namespace) -> List[str]:
    """The model options as engine_rate's command line."""
    options = ["--model", args.model, "--backend", args.backend]
    for option, value in (("--model-base-url", args.model_base_url),
                          ("--model-cache-dir", args.model_cache_dir)):
        if value:
            options += [option, value]
    return options


def run_engine_alone(args: argparse.Namespace, log) -> dict:
    """engine_rate in a subprocess on the benchmark's frame -> its JSON report."""
    command = [sys.executable, "-m", "bodypix_ros.cli.engine_rate", *model_options(args),
               "--width", str(args.width), "--height", str(args.height),
               "--outputs", ",".join(args.outputs), "--duration", str(args.baseline_duration)]
    if args.image:
        command += ["--image", str(args.image)]
    log(f"engine alone for {args.baseline_duration} s ({', '.join(args.outputs)})")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CliError(f"the engine-alone run failed: {done.stderr.strip().splitlines()[-1:]}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise CliError(f"the engine-alone run printed no report: {done.stdout[-200:]!r}") from None


def node_command(args: argparse.Namespace, namespace: str) -> List[str]:
    """The segment node's command line, in `namespace`, with the model options and --node-param."""
    parameters = {"model": args.model, "backend": args.backend,
                  "model_base_url": args.model_base_url, "model_cache_dir": args.model_cache_dir,
                  **dict(args.node_param)}
    command = [sys.executable, "-m", "bodypix_ros.ros.node",
               "--ros-args", "-r", f"__ns:={namespace}"]
    for name, value in parameters.items():
        if value:
            command += ["-p", f"{name}:={value}"]
    return command


def stop_process(process: subprocess.Popen) -> None:
    """SIGINT (rclpy's clean shutdown), then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def count_frames_main() -> None:
    """The trivial subscriber, run as `python -c`: argv = TOPIC RELIABILITY DEPTH OUT_FILE.

    Counts the frames it receives until SIGINT, then writes their stamps (ns) to OUT_FILE as a
    JSON list (a file, not stdout: a long run's list would fill a pipe nobody reads yet).
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    topic, reliability, depth, out_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rclpy.init()
    node = rclpy.create_node("bodypix_bench_frame_counter")
    stamps = []

    def count(message):
        stamps.append(stamp_ns(message.header.stamp.sec, message.header.stamp.nanosec))

    node.create_subscription(
        Image, topic, count,
        QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                   reliability=getattr(ReliabilityPolicy, reliability.upper())))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    Path(out_file).write_text(json.dumps(stamps), encoding="utf-8")


# ---- the ROS part ------------------------------------------------------------------------------

class BenchPublisher:
    """The bench's rclpy node: publishes the frame, records outputs and the node's diagnostics."""

    def __init__(self, frame: np.ndarray, input_topic: str, reliability: str, rate_hz: float):
        try:
            import rclpy
            from diagnostic_msgs.msg import DiagnosticArray
            from rclpy.executors import SingleThreadedExecutor
            from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
            from sensor_msgs.msg import Image
            from std_msgs.msg import Header
        except ImportError as error:
            raise CliError(f"bench-node needs ROS 2 ({error.name} is not importable): install the "
                           f"`ros` extra or source /opt/ros/<distro>/setup.bash") from None
        self._rclpy, self._image_type = rclpy, Image
        self._qos = (QoSProfile, HistoryPolicy, ReliabilityPolicy, DurabilityPolicy)
        rclpy.init()
        self.node = rclpy.create_node("bodypix_node_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.publisher = self.node.create_publisher(Image, input_topic, self.qos(reliability, 1))
        self.message = output_messages(Image, Header(frame_id="bodypix_node_bench"),
                                       {"frame": color_fields(frame)}, byte_array)["frame"]
        self.rate_hz = rate_hz
        self.published_ns: List[int] = []
        self.arrivals: Dict[int, Dict[str, int]] = {}
        self.diagnostics: Dict[str, List[tuple]] = {}
        self._timer = None
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def qos(self, reliability: str, depth: int):
        profile, history, reliabilities, durability = self._qos
        return profile(history=history.KEEP_LAST, depth=depth, durability=durability.VOLATILE,
                       reliability=getattr(reliabilities, reliability.upper()))

    def _on_diagnostics(self, array) -> None:
        stamp = stamp_ns(array.header.stamp.sec, array.header.stamp.nanosec)
        for status in array.status:
            values = {value.key: value.value for value in status.values}
            self.diagnostics.setdefault(status.name, []).append((stamp, values))

    def subscribe_outputs(self, output_topics: Mapping[str, str]) -> list:
        def record(name):
            def on_output(output):
                stamp = stamp_ns(output.header.stamp.sec, output.header.stamp.nanosec)
                self.arrivals.setdefault(stamp, {})[name] = self.now_ns()
            return on_output

        return [self.node.create_subscription(self._image_type, topic, record(name),
                                              self.qos("reliable", 10))
                for name, topic in output_topics.items()]

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def start_publishing(self) -> None:
        def publish():
            now = self.now_ns()
            self.message.header.stamp.sec, self.message.header.stamp.nanosec = divmod(now, 10 ** 9)
            self.publisher.publish(self.message)
            self.published_ns.append(now)

        self._timer = self.node.create_timer(1.0 / self.rate_hz, publish)

    def stop_publishing(self) -> None:
        self.node.destroy_timer(self._timer)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=min(0.05, max(deadline - time.monotonic(), 0.0)))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self._rclpy.try_shutdown()


class FrameCounter:
    """The trivial subscriber: a subprocess (`count_frames_main`) counting the frames on `topic`.

    qos: (reliability, depth) of its subscription.
    """

    def __init__(self, topic: str, qos: tuple):
        descriptor, name = tempfile.mkstemp(prefix="bodypix_bench_", suffix=".json")
        os.close(descriptor)
        self._stamps_file = Path(name)
        self._received: Optional[Set[int]] = None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c",
                 "from bodypix_ros.cli.node_bench import count_frames_main as m; m()",
                 topic, qos[0], str(qos[1]), name])
        except OSError:
            self._stamps_file.unlink()
            raise

    def stop(self) -> Set[int]:
        """End the subprocess (once): the header stamps (ns) of the frames it received.

        CliError when it left no readable list (killed before writing it).
        """
        if self._received is None:
            self._received = set()
            try:
                stop_process(self.process)
                stamps = self._stamps_file.read_text(encoding="utf-8")
            finally:
                self._stamps_file.unlink(missing_ok=True)
            try:
                self._received = set(json.loads(stamps or "[]"))
            except ValueError:
                raise CliError("the frame counter left no readable list of frames (it did not "
                               "stop within 30 s of SIGINT)") from None
        return self._received


def measure_receive_rate(bench: BenchPublisher, topic: str, qos: tuple, warmup_s: float,
                         duration_s: float, log) -> dict:
    """The transport's ceiling: frames/s a subprocess that only counts them receives.

    Publishes to `topic` while the subprocess subscribes with `qos` (reliability, depth);
    returns {published, received, receive_hz}.
    """
    counter = FrameCounter(topic, qos)
    try:
        _wait_for(bench, lambda: bench.publisher.get_subscription_count() > 0, counter.process,
                  f"the frame counter did not subscribe to {topic}")
        log(f"trivial subscriber ({qos[0]}, depth {qos[1]}): {duration_s} s")
        bench.published_ns.clear()
        bench.start_publishing()
        bench.spin_for(warmup_s)
        measured_from, started = len(bench.published_ns), time.monotonic()
        bench.spin_for(duration_s)
        measured, elapsed = bench.published_ns[measured_from:], time.monotonic() - started
        bench.stop_publishing()
        bench.spin_for(0.5)
    finally:
        received = counter.stop()
    return receive_report(received, measured, elapsed)


def receive_report(received: Set[int], measured: Sequence[int], elapsed_s: float) -> dict:
    """{published, received, receive_hz} of the frames stamped `measured`, published over
    `elapsed_s` seconds, given the stamps a subscriber `received`.
    """
    count = len(received & set(measured))
    return {"published": len(measured), "received": count,
            "receive_hz": round(count / elapsed_s, 2) if elapsed_s > 0 else 0.0}


def run_node_bench(bench: BenchPublisher, output_topics: Mapping[str, str], status_name: str,
                   warmup_s: float, duration_s: float, idle_s: float, node_pid: Optional[int],
                   process: Optional[subprocess.Popen], log,
                   counter: Optional[FrameCounter] = None) -> dict:
    """The node phase (see the module docstring) -> {'subscribed': ..., 'no_subscriber': ...}.

    counter: a trivial subscriber on the node's input kept running through the phase; its
    receive rate is then reported as subscribed['receive_alongside'].
    """
    subscriptions = bench.subscribe_outputs(output_topics)
    _wait_for_graph(bench.node, bench.publisher, output_topics, log, process,
                    input_subscribers=1 if counter is None else 2)
    log(f"the node: {warmup_s} s warm-up, {duration_s} s measured")
    bench.published_ns.clear()
    bench.start_publishing()
    bench.spin_for(warmup_s)
    measured_from, started_ns = len(bench.published_ns), bench.now_ns()
    cpu_start, started = _cpu(node_pid), time.monotonic()
    bench.spin_for(duration_s)
    measured, elapsed = bench.published_ns[measured_from:], time.monotonic() - started
    cpu_used, ended_ns = _cpu(node_pid) - cpu_start, bench.now_ns()
    bench.stop_publishing()
    bench.spin_for(DRAIN_S)
    subscribed = delivery_report(measured, bench.arrivals, list(output_topics), elapsed)
    if counter is not None:
        subscribed["receive_alongside"] = receive_report(counter.stop(), measured, elapsed)
    statuses = [(stamp, values) for stamp, values in bench.diagnostics.get(status_name, [])
                if started_ns <= stamp <= ended_ns]
    if len(statuses) >= 2:
        subscribed["node"] = node_side_report(bench.published_ns, statuses[0], statuses[-1])
    else:
        log(f"no diagnostics named {status_name!r} during the phase: node-side figures left out")
    report = {"subscribed": subscribed}
    if node_pid:
        subscribed["node_cpu_percent"] = cpu_percent(cpu_used, elapsed)
        for subscription in subscriptions:
            bench.node.destroy_subscription(subscription)
        log(f"no subscriber: publishing for {idle_s} s to measure the idle node's CPU use")
        bench.start_publishing()
        bench.spin_for(1.0)
        cpu_start, started = _cpu(node_pid), time.monotonic()
        bench.spin_for(idle_s)
        report["no_subscriber"] = {"node_cpu_percent": cpu_percent(_cpu(node_pid) - cpu_start,
                                                                   time.monotonic() - started)}
        bench.stop_publishing()
    return report


def _cpu(pid: Optional[int]) -> float:
    return process_cpu_seconds(pid) if pid else 0.0


def _wait_for(bench: BenchPublisher, condition, process: subprocess.Popen, problem: str) -> None:
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while not condition():
        if process.poll() is not None or time.monotonic() >= deadline:
            raise CliError(problem)
        bench.spin_for(0.1)


def _wait_for_graph(node, publisher, output_topics: Mapping[str, str], log,
                    process: Optional[subprocess.Popen] = None,
                    input_subscribers: int = 1) -> None:
    """Wait until the node subscribes to our frames and publishes every output topic.

    input_subscribers: how many subscriptions our frames have once the node's is there.
    CliError naming what is missing after DISCOVERY_TIMEOUT_S or when `process` (the node) exits.
    """
    deadline, waited = time.monotonic() + DISCOVERY_TIMEOUT_S, False
    while True:
        problems = []
        if publisher.get_subscription_count() < input_subscribers:
            problems.append(f"nothing subscribes to {publisher.topic_name} (check --input-topic)")
        missing = [topic for topic in output_topics.values() if node.count_publishers(topic) == 0]
        if missing:
            problems.append(f"nothing publishes {', '.join(missing)} (check --node and --outputs "
                            f"against the node's *_topic parameters)")
        if not problems:
            return
        if process is not None and process.poll() is not None:
            raise CliError(f"the segment node exited with status {process.returncode} "
                           f"before it was ready (its log is above)")
        if not waited:
            log(f"waiting up to {DISCOVERY_TIMEOUT_S:g} s: {'; '.join(problems)}")
            waited = True
        if time.monotonic() >= deadline:
            raise CliError(f"after {DISCOVERY_TIMEOUT_S:g} s {'; '.join(problems)}: start the "
                           f"node first (ros2 run bodypix_ros segment_node)")
        time.sleep(0.1)


# ---- command line ------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register `bench-node` (needs rclpy)."""
    parser = subparsers.add_parser(
        "bench-node",
        help="the segment node's rates, drops, latency and CPU use beside the engine alone and "
             "a trivial subscriber (needs ROS 2)",
        description=__doc__.split("\n\n", 1)[0].split(": ", 1)[1] + "\n\n"
                    + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_node_bench_arguments(parser)
    parser.set_defaults(run=run_node_bench_command)


def add_node_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `bodypix-ros bench-node` and `python -m bodypix_ros.cli.node_bench`."""
    parser.add_argument("--node-pid", type=positive_int, metavar="PID",
                        help="measure this running segment node instead of starting one "
                             "(e.g. pgrep -f segment_node); then --node and --input-topic apply")
    parser.add_argument("--node", default="/bodypix", metavar="NAME",
                        help="with --node-pid: fully qualified name of the running node; outputs "
                             "are NAME/<output> (default: %(default)s)")
    parser.add_argument("--input-topic", default="/image", metavar="TOPIC",
                        help="with --node-pid: the node's input topic (default: %(default)s)")
    parser.add_argument("--node-param", type=node_parameter, action="append", default=[],
                        metavar="NAME:=VALUE",
                        help="a parameter of the started node (repeatable), e.g. "
                             "qos_reliability:=reliable; the trivial subscriber takes its QoS")
    parser.add_argument("--outputs", type=output_list, default=",".join(DEFAULT_OUTPUTS),
                        metavar="NAMES",
                        help=f"outputs to subscribe to, of {', '.join(OUTPUT_NAMES)} "
                             f"(default: %(default)s)")
    parser.add_argument("--image", type=Path, metavar="PHOTO",
                        help="photo to publish, resized (default: as for `bench`)")
    parser.add_argument("--width", type=positive_int, default=640,
                        help="frame width (default: %(default)s)")
    parser.add_argument("--height", type=positive_int, default=480,
                        help="frame height (default: %(default)s)")
    parser.add_argument("--rate", type=positive_float, default=30.0, metavar="HZ",
                        help="publish rate (default: %(default)s)")
    parser.add_argument("--publisher-reliability", choices=QOS_RELIABILITIES,
                        default="best_effort",
                        help="QoS of the published frames (default: %(default)s, as camera "
                             "drivers' sensor-data QoS)")
    parser.add_argument("--duration", type=positive_float, default=60.0, metavar="S",
                        help="measured seconds of the node (default: %(default)s)")
    parser.add_argument("--baseline-duration", type=positive_float, default=15.0, metavar="S",
                        help="measured seconds of the engine alone and of the trivial subscriber "
                             "(default: %(default)s)")
    parser.add_argument("--warmup", type=non_negative_float, default=5.0, metavar="S",
                        help="seconds published first and not counted (default: %(default)s)")
    parser.add_argument("--idle-duration", type=positive_float, default=10.0, metavar="S",
                        help="seconds without subscriber for the idle CPU measurement "
                             "(default: %(default)s)")
    parser.add_argument("--counter-alongside", action="store_true",
                        help="keep the trivial subscriber running beside the node and report its "
                             "receive rate there: the transport's ceiling under the node's load")
    parser.add_argument("--skip-baselines", action="store_true",
                        help="measure the node only (no engine-alone and trivial-subscriber runs)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    add_model_arguments(parser)


def run_node_bench_command(args: argparse.Namespace) -> int:
    """Run the benchmark the options describe, print the summary (and write --json)."""
    if args.node_pid is not None:
        process_cpu_seconds(args.node_pid)  # fail before publishing if the pid is wrong
    frame = published_frame(args.image, args.width, args.height)
    parameters = dict(args.node_param)
    namespace = f"/bodypix_bench_{os.getpid()}"
    node_name = args.node.rstrip("/") if args.node_pid else f"{namespace}/bodypix"
    input_topic = args.input_topic if args.node_pid else f"{namespace}/image"
    topics = {name: f"{node_name}/{name}" for name in args.outputs}
    report = {"settings": {
        "input_topic": input_topic, "outputs": topics, "rate_hz": args.rate,
        "duration_s": args.duration, "frame_size": f"{args.width}x{args.height}",
        "publisher_reliability": args.publisher_reliability, "node_parameters": parameters,
        "model": args.model,
        "fastrtps_profiles_file": os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE")}}
    bench = BenchPublisher(frame, input_topic, args.publisher_reliability, args.rate)
    process = counter = None
    with contextlib.ExitStack() as cleanup:  # in reverse order, each even if one before raised
        cleanup.callback(bench.close)
        if not args.skip_baselines:
            report["engine_alone"] = run_engine_alone(args, _progress)
            report["receive"] = measure_receive_rate(
                bench, input_topic, node_qos(parameters), args.warmup, args.baseline_duration,
                _progress)
        node_pid = args.node_pid
        if node_pid is None:
            _progress(f"starting the segment node in {namespace}")
            process = subprocess.Popen(node_command(args, namespace))
            cleanup.callback(stop_process, process)
            node_pid = process.pid
        if args.counter_alongside:
            counter = FrameCounter(input_topic, node_qos(parameters))
            cleanup.callback(counter.stop)
            _wait_for(bench, lambda: bench.publisher.get_subscription_count() > 0,
                      counter.process, f"the frame counter did not subscribe to {input_topic}")
        report.update(run_node_bench(bench, topics, diagnostic_name(node_name),
                                     args.warmup, args.duration, args.idle_duration, node_pid,
                                     process, _progress, counter))
    report["headline"] = headline(report.get("engine_alone"), report.get("receive"),
                                  report["subscribed"])
    print(format_summary(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


def _progress(message: str) -> None:
    print(f"bench-node: {message}", file=sys.stderr, flush=True)
