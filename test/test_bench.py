"""`bodypix-ros bench` (smoke run on a shared model, no timing assertion)."""

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, SHARED, require_shared
from PIL import Image

from bodypix_ros.cli import bench
from bodypix_ros.cli.main import main
from bodypix_ros.errors import UsageError
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
        for summary in [*pipeline["stages"].values(), pipeline["end_to_end"],
                        pipeline["post_network"]]:
            assert 0 < summary["median_ms"] <= summary["p95_ms"]
        assert pipeline["end_to_end"]["median_ms"] >= pipeline["post_network"]["median_ms"]
    ratio = row["ratio"]
    expected = ours["end_to_end"]["median_ms"] / theirs["end_to_end"]["median_ms"]
    assert ratio["end_to_end"] == pytest.approx(expected, rel=1e-2)
    assert ratio["throughput"] == pytest.approx(1 / expected, rel=1e-2)
    network_alone = row[bench.NETWORK_ALONE]
    assert list(network_alone["stages"]) == ["network"]
    assert network_alone["end_to_end"]["median_ms"] > 0
    expected = (ours["end_to_end"]["median_ms"] - network_alone["end_to_end"]["median_ms"]) / \
        network_alone["end_to_end"]["median_ms"]
    # A difference of two medians from two iterations: its sign is noise, so only the arithmetic
    # is checked.
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
    names = [spec.name for spec in present]
    assert bench.models_to_bench(bench.ALL_LOCAL, str(tmp_path)) == names
    assert bench.models_to_bench(bench.ALL_LOCAL, tmp_path.as_uri()) == names
    assert bench.models_to_bench("a, b,a", None) == ["a", "b"]
    with pytest.raises(UsageError, match="local"):
        bench.models_to_bench(bench.ALL_LOCAL, "https://example.com/models")


def test_summaries_keep_stage_order_and_ratios_compare_medians():
    runs = [{"preprocess": 1.0, "network": 10.0 + i, "mask": 2.0, "end_to_end": 20.0 + i,
             "post_network": 9.0} for i in range(5)]
    summary = bench.summarize_pipeline(runs, [3, 3, 4, 3, 3])
    assert list(summary["stages"]) == ["preprocess", "network", "mask"]
    assert summary["stages"]["network"]["median_ms"] == 12.0
    assert summary["end_to_end"]["median_ms"] == 22.0 and summary["persons"] == 3
    theirs = bench.summarize_pipeline([{"end_to_end": 44.0, "post_network": 30.0}], [None])
    assert "persons" not in theirs
    ratio = bench.ratios(summary, theirs, network_ms=10.0)
    assert ratio == {"end_to_end": 0.5, "throughput": 2.0, "non_network_per_network": 1.2}


def test_bench_without_tf_bodypix_says_what_to_install(capsys, monkeypatch):
    require_shared()
    monkeypatch.setitem(sys.modules, "tf_bodypix", None)
    monkeypatch.setitem(sys.modules, "tf_bodypix.model", None)
    status = main(["bench", "--models", DEFAULT_MODEL, "--model-base-url", str(MODELS),
                   "--image", str(SHARED / bench.SHARED_PHOTO), "--sizes", "64x48",
                   "--iterations", "1"])
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "bodypix-ros: error: bench compares with tf-bodypix, which is not installed: "
        "pip install tf-bodypix"]


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
              "environment": {"bodypix_ros": "0.1.0", "tf_bodypix": "0.4.2",
                              "tensorflow": "2.21.0", "cpu_count": 2, "cpu": "EPYC"}}
    title = bench.chart_title(report)
    assert "tflite backend" in title and "0.5" in title and "30 iterations" in title
