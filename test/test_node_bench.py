"""`bodypix-ros bench-node`: its ROS-free parts, and a short run of the whole benchmark (CI smoke
test: real node, real DDS, no timing assertion)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MODELS, REPO, SHARED, import_ros, require_shared

from bodypix_ros.cli import bench, node_bench
from bodypix_ros.cli.main import main
from bodypix_ros.errors import CliError
from bodypix_ros.ros.runtime import diagnostic_name

MS = 1_000_000
"""Nanoseconds per millisecond."""


def test_node_bench_imports_neither_rclpy_nor_tensorflow():
    code = ("import sys, bodypix_ros.cli.node_bench, bodypix_ros.cli.bench; "
            "print(sorted(m for m in ('rclpy', 'tensorflow') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_delivery_report_counts_frames_with_every_output():
    published = [0, 100 * MS, 200 * MS, 300 * MS]
    arrivals = {0: {"mask": 20 * MS, "overlay": 30 * MS},
                100 * MS: {"mask": 140 * MS, "overlay": 150 * MS},
                200 * MS: {"mask": 230 * MS},  # overlay lost: not delivered
                999 * MS: {"mask": 1000 * MS, "overlay": 1000 * MS}}  # not published in the phase
    report = node_bench.delivery_report(published, arrivals, ["mask", "overlay"], duration_s=0.4)
    assert (report["published"], report["delivered"]) == (4, 2)
    assert report["received_per_output"] == {"mask": 3, "overlay": 2}
    assert report["drop_rate"] == 0.5 and report["throughput_hz"] == 5.0
    assert report["input_hz"] == 10.0
    assert report["latency_ms"]["p50"] == pytest.approx(40.0)
    assert report["latency_ms"]["max"] == 50.0
    assert node_bench.delivery_report([], {}, ["mask"], 1.0)["latency_ms"] is None


def diagnostics(received, processed, replaced, rate_limited=0, processing=("20.0", "30.0")):
    values = {key: "0" for key in node_bench.NODE_COUNTS.values()}
    values.update({"frames received": str(received), "frames processed": str(processed),
                   "frames dropped (replaced by newer)": str(replaced),
                   "frames dropped (rate limit)": str(rate_limited),
                   "processing latency p50 (ms)": processing[0],
                   "processing latency p95 (ms)": processing[1],
                   "end-to-end latency p50 (ms)": "n/a", "end-to-end latency p95 (ms)": "n/a"})
    return values


def test_node_side_report_splits_drops_by_cause():
    published = [stamp * 100 * MS for stamp in range(30)]  # 10 Hz for 3 s
    first = (500 * MS, diagnostics(received=4, processed=3, replaced=1))
    last = (2500 * MS, diagnostics(received=18, processed=12, replaced=4, rate_limited=2))
    report = node_bench.node_side_report(published, first, last)
    assert report["published"] == 20  # stamps in (0.5 s, 2.5 s]
    assert (report["received"], report["processed"], report["replaced"]) == (14, 9, 3)
    assert report["rate_limited"] == 2 and report["transport_lost"] == 6
    assert report["input_hz"] == 7.0 and report["output_hz"] == 4.5
    assert report["processing_ms"] == {"p50": 20.0, "p95": 30.0}
    assert report["node_end_to_end_ms"] == {"p50": None, "p95": None}


def test_headline_divides_by_the_lower_ceiling():
    engine = {"frames_per_s": 40.0, "frame_ms": {"p50": 25.0, "p95": 30.0}}
    node = {"throughput_hz": 18.0, "latency_ms": {"p50": 30.0, "p95": 50.0}}
    assert node_bench.headline(engine, {"receive_hz": 20.0}, node) == {
        "ceiling_hz": 20.0, "output_ratio": 0.9, "end_to_end_p95_per_engine_frame": 2.0}
    assert node_bench.headline(None, None, node)["output_ratio"] is None


def test_summary_shows_every_figure():
    report = {"engine_alone": {"frames_per_s": 40.0, "frame_ms": {"p50": 25.0, "p95": 30.0}},
              "receive": {"receive_hz": 29.5},
              "subscribed": {"input_hz": 30.0, "throughput_hz": 27.0, "node_cpu_percent": 80.0,
                             "latency_ms": {"p50": 31.0, "p95": 45.0},
                             "node": {"input_hz": 29.0, "transport_lost": 7, "replaced": 12,
                                      "rate_limited": 0,
                                      "processing_ms": {"p50": 26.0, "p95": 33.0}}},
              "no_subscriber": {"node_cpu_percent": 0.2}}
    report["headline"] = node_bench.headline(report["engine_alone"], report["receive"],
                                             report["subscribed"])
    summary = node_bench.format_summary(report)
    for figure in ("40.0", "25.0 / 30.0", "29.5", "29.0", "27.0", "7 / 12 / 0", "26.0 / 33.0",
                   "31.0 / 45.0", "80.0 / 0.2", "0.915", "1.8"):
        assert figure in summary, figure


def test_node_command_passes_model_and_node_parameters():
    args = node_bench_args("--model-base-url", "/models", "--node-param",
                           "qos_reliability:=reliable", "--node-param", "max_rate:=10.0")
    command = node_bench.node_command(args, "/ns")
    assert command[:3] == [sys.executable, "-m", "bodypix_ros.ros.node"]
    pairs = [command[i + 1] for i, word in enumerate(command) if word in ("-p", "-r")]
    assert "__ns:=/ns" in pairs and "model_base_url:=/models" in pairs
    assert "qos_reliability:=reliable" in pairs and "max_rate:=10.0" in pairs
    assert not any(pair.startswith("model_cache_dir") for pair in pairs)  # unset: left out
    assert node_bench.node_qos(dict(args.node_param)) == ("reliable", 1)
    assert node_bench.node_qos({}) == ("best_effort", 1)


def node_bench_args(*arguments):
    from bodypix_ros.cli.main import build_parser

    return build_parser().parse_args(["bench-node", *arguments])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_proc_stat_cpu_time_matches_the_process_own_count():
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    own = os.times()
    measured = node_bench.proc_stat_cpu_seconds(os.getpid())
    assert measured == pytest.approx(own.user + own.system, abs=0.05)
    with pytest.raises(Exception, match="cannot read the CPU time"):
        node_bench.proc_stat_cpu_seconds(2 ** 22 + 12345)


def test_bench_node_without_ros_says_what_to_do(capsys, monkeypatch):
    require_shared()
    monkeypatch.setitem(sys.modules, "rclpy", None)  # as if ROS were not installed
    status = main(["bench-node", "--image", str(SHARED / bench.SHARED_PHOTO), "--duration", "1"])
    assert status == 1
    assert "needs ROS 2" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [
    ("--rate", "nan"), ("--duration", "inf"), ("--rate", "0"), ("--warmup", "-1"),
    ("--width", "0"), ("--node-pid", "-5"), ("--outputs", "mask,depth"),
    ("--node-param", "max_rate=3"), ("--publisher-reliability", "sometimes")])
def test_bench_node_refuses_bad_numbers_and_outputs(capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench-node", option, value])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("bodypix-ros: error: ") and option in line


@pytest.mark.ros
def test_bench_node_smoke(capsys, tmp_path):
    """The whole benchmark for a few seconds: engine alone, trivial subscriber (also beside the
    node), a started node.
    """
    import_ros()
    require_shared()
    report_path = tmp_path / "new" / "node.json"
    status = main(["bench-node", "--image", str(SHARED / bench.SHARED_PHOTO), "--width", "160",
                   "--height", "120", "--rate", "10", "--outputs", "mask,overlay",
                   "--baseline-duration", "2", "--warmup", "2", "--duration", "3",
                   "--idle-duration", "2", "--model-base-url", str(MODELS),
                   "--counter-alongside", "--json", str(report_path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "headline: output / min(engine, receive)" in out
    report = json.loads(report_path.read_text())
    assert report["engine_alone"]["frames"] > 0 and report["receive"]["received"] > 0
    subscribed = report["subscribed"]
    assert subscribed["published"] >= 20 and subscribed["delivered"] >= 1
    assert subscribed["node"]["received"] >= 1 and subscribed["node"]["processed"] >= 1
    assert subscribed["latency_ms"]["p50"] > 0
    assert subscribed["node_cpu_percent"] > report["no_subscriber"]["node_cpu_percent"]
    assert report["headline"]["output_ratio"] > 0
    alongside = subscribed["receive_alongside"]
    assert alongside["published"] == subscribed["published"]
    assert 1 <= alongside["received"] <= alongside["published"]
    assert "trivial subscriber beside the node (Hz)" in out


class FinishedProcess:
    """A subprocess.Popen that already exited; records the command it was given."""

    def __init__(self, command):
        self.command = command

    def poll(self):
        return 0


@pytest.mark.parametrize("written, expected", [("[5, 7]", {5, 7}), ("", set()),
                                               ("[5, 7", CliError)])
def test_frame_counter_stops_once_and_leaves_no_file(monkeypatch, written, expected):
    monkeypatch.setattr(node_bench.subprocess, "Popen", FinishedProcess)
    counter = node_bench.FrameCounter("/image", ("best_effort", 1))
    stamps_file = Path(counter.process.command[-1])
    stamps_file.write_text(written)  # what the counter subprocess wrote (cut short: killed)
    if expected is CliError:
        with pytest.raises(CliError, match="no readable list"):
            counter.stop()
        assert counter.stop() == set()  # the clean-up's second call does not raise again
    else:
        assert counter.stop() == expected == counter.stop()
    assert not stamps_file.exists()


class GraphStub:
    """Just enough of an rclpy node and publisher for `_wait_for_graph`."""

    topic_name = "/image"

    def __init__(self, subscribers, publishers):
        self.subscribers, self.publishers = subscribers, publishers

    def get_subscription_count(self):
        return self.subscribers

    def count_publishers(self, topic):
        return self.publishers.get(topic, 0)


def test_wait_for_graph_names_only_what_is_missing(monkeypatch):
    monkeypatch.setattr(node_bench, "DISCOVERY_TIMEOUT_S", 0.0)
    topics = {"mask": "/bodypix/mask", "overlay": "/bodypix/overlay"}
    ready = GraphStub(1, {"/bodypix/mask": 1, "/bodypix/overlay": 1})
    node_bench._wait_for_graph(ready, ready, topics, log=pytest.fail)

    logged = []
    stub = GraphStub(1, {"/bodypix/mask": 1})
    with pytest.raises(CliError) as error:
        node_bench._wait_for_graph(stub, stub, topics, log=logged.append)
    message = str(error.value)
    assert "nothing publishes /bodypix/overlay" in message and "/bodypix/mask" not in message
    assert "subscribes" not in message and len(logged) == 1
    with pytest.raises(CliError) as error:  # the counter alone subscribes, not yet the node
        node_bench._wait_for_graph(ready, ready, topics, log=logged.append, input_subscribers=2)
    assert "nothing subscribes to /image" in str(error.value)


def test_diagnostic_name_tells_namespaces_apart():
    assert diagnostic_name("/bodypix") == "bodypix: BodyPix segmentation"
    assert diagnostic_name("/robot/bodypix") == "robot/bodypix: BodyPix segmentation"
