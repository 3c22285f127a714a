"""`bodypix-ros bench` (smoke run on a shared model, no timing assertion) and the node benchmark's parts."""

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, REPO, SHARED, import_ros, require_shared
from PIL import Image

from bodypix_ros.cli import bench, node_bench
from bodypix_ros.cli.main import main
from bodypix_ros.errors import CliError, UsageError
from bodypix_ros.model.names import DEFAULT_MODEL, all_model_specs


def test_bench_smoke_writes_table_json_and_chart(tmp_path, capsys):
    require_shared()
    report_path, chart_path = tmp_path / "bench.json", tmp_path / "bench.png"
    status = main(["bench", "--models", DEFAULT_MODEL, "--model-base-url", str(MODELS),
                   "--image", str(SHARED / bench.SHARED_PHOTO), "--sizes", "320x240",
                   "--iterations", "2", "--warmup", "1", "--multi-person",
                   "--json", str(report_path), "--plot", str(chart_path)])
    assert status == 0
    table = capsys.readouterr().out

    report = json.loads(report_path.read_text())
    assert report["iterations"] == 2 and report["multi_person"] is True
    (row,) = report["results"]
    assert (row["model"], row["frame_size"]) == (DEFAULT_MODEL, "320x240")
    assert row["onednn"] is bench.onednn_enabled()
    assert f"| {DEFAULT_MODEL} | 320x240 | {'on' if row['onednn'] else 'off'} |" in table
    ours, theirs, persons = row["ours"], row["tf_bodypix"], row["ours_multi_person"]
    assert list(ours["stages"])[0] == "network" and list(ours["stages"])[-1] == "overlay"
    assert "part_labels" in ours["stages"]  # the mask comes with the part labels
    assert list(theirs["stages"]) == list(bench.TF_BODYPIX_STAGES)
    assert "persons" in persons["stages"] and persons["persons"] >= 1 and "persons" not in ours
    for pipeline in (ours, theirs, persons):
        for summary in [*pipeline["stages"].values(), pipeline["end_to_end"], pipeline["post_network"]]:
            assert 0 < summary["median_ms"] <= summary["p95_ms"]
        assert pipeline["end_to_end"]["median_ms"] >= pipeline["post_network"]["median_ms"]
    ratio = row["ratio"]
    expected = ours["end_to_end"]["median_ms"] / theirs["end_to_end"]["median_ms"]
    assert ratio["end_to_end"] == pytest.approx(expected, rel=1e-2)
    assert ratio["throughput"] == pytest.approx(1 / expected, rel=1e-2)
    network_alone = row[bench.NETWORK_ALONE]
    assert list(network_alone["stages"]) == ["network"] and network_alone["end_to_end"]["median_ms"] > 0
    expected = (ours["end_to_end"]["median_ms"] - network_alone["end_to_end"]["median_ms"]) / \
        network_alone["end_to_end"]["median_ms"]
    # A difference of two medians from two iterations: its sign is noise, so only the arithmetic is checked.
    assert ratio["non_network_per_network"] == pytest.approx(expected, rel=1e-2, abs=1e-3)

    with Image.open(chart_path) as chart:
        assert chart.format == "PNG" and chart.width >= 800 and chart.height >= 100
        pixels = np.asarray(chart.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 8  # bars in several colours, text


def test_effects_mode_times_every_method_beside_the_segmentation(tmp_path, capsys):
    require_shared()
    report_path = tmp_path / "effects.json"
    status = main(["bench", "--effects", "--models", DEFAULT_MODEL, "--model-base-url",
                   str(MODELS), "--image", str(SHARED / bench.SHARED_PHOTO), "--sizes",
                   "320x240", "--iterations", "2", "--warmup", "0", "--json", str(report_path)])
    assert status == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith(f"| {DEFAULT_MODEL} | 320x240 |")]
    methods = [row.split(" | ")[2] for row in rows]
    assert methods == [f"anonymize {target} {method}" for target in ("persons", "faces")
                       for method in ("blur", "pixelate", "fill")] + [
        f"overlay {mode}" for mode in ("parts", "bokeh", "blur_parts", "pixelate")]
    (row,) = json.loads(report_path.read_text())["results"]
    assert set(row["effects"]) == {"segment", *methods}
    assert all(timing["median_ms"] > 0 for timing in row["effects"].values())


def test_bad_options_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--sizes", "640by480"])
    assert exit_info.value.code == 2 and "WIDTHxHEIGHT" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--iterations", "0"])
    assert exit_info.value.code == 2 and "'0' is not an integer >= 1" in capsys.readouterr().err


def test_frame_sizes_are_width_by_height():
    assert bench.frame_sizes("640x480, 1280X720") == [(640, 480), (1280, 720)]


def test_all_local_lists_the_official_models_present(tmp_path):
    present = [spec for spec in all_model_specs() if spec.quant == "quant1"][:3]
    for spec in present:
        path = tmp_path / spec.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert bench.models_to_bench(bench.ALL_LOCAL, str(tmp_path)) == [spec.name for spec in present]
    assert bench.models_to_bench(bench.ALL_LOCAL, tmp_path.as_uri()) == [spec.name for spec in present]
    assert bench.models_to_bench("a, b,a", None) == ["a", "b"]
    with pytest.raises(UsageError, match="local"):
        bench.models_to_bench(bench.ALL_LOCAL, "https://example.com/models")


def test_summaries_keep_stage_order_and_ratios_compare_medians():
    runs = [{"preprocess": 1.0, "network": 10.0 + i, "mask": 2.0, "end_to_end": 20.0 + i, "post_network": 9.0}
            for i in range(5)]
    summary = bench.summarize_pipeline(runs, [3, 3, 4, 3, 3])
    assert list(summary["stages"]) == ["preprocess", "network", "mask"]
    assert summary["stages"]["network"]["median_ms"] == 12.0
    assert summary["end_to_end"]["median_ms"] == 22.0 and summary["persons"] == 3
    theirs = bench.summarize_pipeline([{"end_to_end": 44.0, "post_network": 30.0}], [None])
    assert "persons" not in theirs
    ratio = bench.ratios(summary, theirs, network_ms=10.0)
    assert ratio == {"end_to_end": 0.5, "throughput": 2.0, "non_network_per_network": 1.2}


def test_node_bench_imports_neither_rclpy_nor_tensorflow():
    code = ("import sys, bodypix_ros.cli.node_bench, bodypix_ros.cli.bench; "
            "print(sorted(m for m in ('rclpy', 'tensorflow') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_delivery_report_counts_frames_with_every_output():
    ms = 1_000_000
    published = [0, 100 * ms, 200 * ms, 300 * ms]
    arrivals = {0: {"mask": 20 * ms, "overlay": 30 * ms},
                100 * ms: {"mask": 140 * ms, "overlay": 150 * ms},
                200 * ms: {"mask": 230 * ms},  # overlay lost: not delivered
                999 * ms: {"mask": 1000 * ms, "overlay": 1000 * ms}}  # not published in the phase
    report = node_bench.delivery_report(published, arrivals, ["mask", "overlay"], duration_s=0.4)
    assert (report["published"], report["delivered"]) == (4, 2)
    assert report["received_per_output"] == {"mask": 3, "overlay": 2}
    assert report["drop_rate"] == 0.5 and report["throughput_hz"] == 5.0 and report["input_hz"] == 10.0
    assert report["latency_ms"]["p50"] == pytest.approx(40.0) and report["latency_ms"]["max"] == 50.0
    assert node_bench.delivery_report([], {}, ["mask"], 1.0)["latency_ms"] is None


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
    assert main(["bench-node", "--image", str(SHARED / bench.SHARED_PHOTO), "--duration", "1"]) == 1
    assert "needs ROS 2" in capsys.readouterr().err


@pytest.mark.ros
def test_node_round_trip(tmp_path):
    import_ros()
    require_shared()
    namespace = f"/bench_test_{os.getpid()}"  # apart from other nodes on the ROS domain
    node = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bodypix_ros.ros.node import main; sys.exit(main())",
         "--ros-args", "-r", f"__ns:={namespace}", "-p", f"model_base_url:={MODELS}"], cwd=REPO)
    try:
        frame = node_bench.published_frame(SHARED / bench.SHARED_PHOTO, 320, 240)
        report = node_bench.run_node_bench(
            frame, f"{namespace}/image", {name: f"{namespace}/bodypix/{name}" for name in ("mask", "overlay")},
            rate_hz=5.0, duration_s=3.0, warmup_s=3.0, idle_s=2.0, node_pid=node.pid, log=lambda message: None)
    finally:
        node.terminate()
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    subscribed = report["subscribed"]
    assert subscribed["published"] >= 10 and subscribed["delivered"] >= 1
    assert subscribed["latency_ms"]["p50"] > 0 and 0 <= subscribed["drop_rate"] < 1
    assert subscribed["node_cpu_percent"] > report["no_subscriber"]["node_cpu_percent"]


def test_bench_without_tf_bodypix_says_what_to_install(capsys, monkeypatch):
    require_shared()
    monkeypatch.setitem(sys.modules, "tf_bodypix", None)
    monkeypatch.setitem(sys.modules, "tf_bodypix.model", None)
    status = main(["bench", "--models", DEFAULT_MODEL, "--model-base-url", str(MODELS),
                   "--image", str(SHARED / bench.SHARED_PHOTO), "--sizes", "64x48", "--iterations", "1"])
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "bodypix-ros: error: bench compares with tf-bodypix, which is not installed: pip install tf-bodypix"]


ONEDNN_CPU_FLAGS = {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}
"""x86 /proc/cpuinfo flags on which TensorFlow's Linux wheels turn oneDNN on by default."""


def test_onednn_state_follows_the_environment_or_the_cpu():
    """Run with TF_ENABLE_ONEDNN_OPTS=0 and =1 by test_kernel_paths.py as well."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting is not None:
        expected = setting.lower() in ("1", "true")
    elif platform.machine() in ("x86_64", "AMD64"):
        flags = {flag for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
        expected = bool(flags & ONEDNN_CPU_FLAGS)
    else:
        pytest.skip("TensorFlow's oneDNN default is checked against x86 CPU flags only")
    assert bench.onednn_enabled() is expected


def test_chart_title_names_the_backend():
    report = {"backend": "tflite", "internal_resolution": 0.5, "iterations": 30,
              "environment": {"bodypix_ros": "0.1.0", "tf_bodypix": "0.4.2", "tensorflow": "2.21.0",
                              "cpu_count": 2, "cpu": "EPYC"}}
    title = bench.chart_title(report)
    assert "tflite backend" in title and "0.5" in title and "30 iterations" in title


@pytest.mark.parametrize("option, value", [("--rate", "nan"), ("--duration", "inf"), ("--rate", "0"),
                                           ("--warmup", "-1"), ("--width", "0"), ("--node-pid", "-5"),
                                           ("--outputs", "mask,depth")])
def test_bench_node_refuses_bad_numbers_and_outputs(capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench-node", option, value])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("bodypix-ros: error: ") and option in line


def test_bench_node_writes_the_report_into_a_new_folder(capsys, monkeypatch, tmp_path):
    require_shared()
    calls = []

    def fake_run(frame, input_topic, output_topics, *arguments, log):
        calls.append((frame.shape, input_topic, output_topics))
        return {"subscribed": {"published": 3}}

    monkeypatch.setattr(node_bench, "run_node_bench", fake_run)
    report_path = tmp_path / "new" / "node.json"
    status = main(["bench-node", "--image", str(SHARED / bench.SHARED_PHOTO), "--width", "64", "--height", "48",
                   "--node", "/seg/", "--outputs", "mask", "--json", str(report_path)])
    assert status == 0, capsys.readouterr().err
    assert calls == [((48, 64, 3), "/image", {"mask": "/seg/mask"})]
    report = json.loads(report_path.read_text())
    assert report["subscribed"] == {"published": 3} and report["settings"]["frame_size"] == "64x48"


class GraphStub:
    """Just enough of an rclpy node and publisher for `_wait_for_graph`: who subscribes and publishes."""

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
