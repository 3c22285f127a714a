"""The TFJS parity, every-model, TFLite stride-8 and dilated-conv tests on the TensorFlow CPU
kernel path this run does not use (oneDNN on or off, by TF_ENABLE_ONEDNN_OPTS), in a subprocess.

The suite runs them in process on this CPU's default path, so together they cover both paths
whatever CPU runs the tests (without oneDNN, TensorFlow's depthwise kernel has no dilations).
"""

import os
import re
import subprocess
import sys

from conftest import REPO, require_shared

from bodypix_ros.cli.bench import onednn_enabled

OTHER_PATH_TESTS = (
    "test/test_engine.py::test_parity_with_tfjs_reference",
    "test/test_engine.py::test_every_shared_model_segments_one_person",
    "test/test_multi_person.py::test_parity_with_tfjs_segment_multi_person",
    "test/test_tflite.py::test_tflite_matches_tensorflow_and_the_original"
    "[mobilenet_quant2_075_stride8-five_people_fauxels-3184419]",
    "test/test_tflite.py::test_tflite_returns_every_graph_output_under_its_name"
    "[mobilenet_quant2_075_stride8]",
    "test/test_graph_model.py::test_dilated_convs_match_tf_nn_on_every_kernel",
    "test/test_bench.py::test_onednn_state_follows_the_environment_or_the_cpu",
)


def test_parity_and_every_model_on_the_other_kernel_path():
    require_shared()
    other = "0" if onednn_enabled() else "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *OTHER_PATH_TESTS],
        cwd=REPO, env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS=other), capture_output=True,
        text=True, timeout=900)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, f"TF_ENABLE_ONEDNN_OPTS={other}:\n{run.stdout[-4000:]}"
    assert re.fullmatch(r"\d+ passed(, \d+ warnings?)? in .*", summary), summary
