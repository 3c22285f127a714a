"""Shared test fixtures: the `../shared` data folder and engines on its real models.

ROS tests carry the `ros` marker and import ROS through `import_ros`: where rclpy or the
messages are missing they are skipped with the reason, unless BODYPIX_REQUIRE_ROS=1 (CI),
which turns every such skip into a failure. The run ends with a line counting the ROS tests.
"""

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BODYPIX_SHARED_DIR", REPO.parent / "shared"))
MODELS = SHARED / "models" / "bodypix"
REFERENCE = SHARED / "reference"
REFERENCE_MODELS = ("mobilenet_quant2_075_stride16", "mobilenet_float_050_stride16",
                    "mobilenet_quant2_075_stride8")
REFERENCE_STEMS = tuple(sorted(p.stem for p in (REFERENCE / "inputs").glob("*.png")))
PARITY_MASK_IOU = 0.9999
PARITY_PART_AGREEMENT = 0.9999
PARITY_PERSON_IOU = 0.999
"""The parity bars with the original TFJS outputs that the README quotes (worst cases measured:
0.99999, 0.99996 and 0.99962 on both TensorFlow kernel paths)."""
ONE_PERSON = "one_person_karolina-grabowska-4378882"
"""The reference photo with a single person."""
PYTHON_TYPES = {"bool": bool, "integer": int, "double": float, "string": str}
"""ROS parameter type name -> the Python type of its values."""
REQUIRE_ROS = os.environ.get("BODYPIX_REQUIRE_ROS") == "1"
"""CI: a ROS test that cannot run fails instead of being skipped."""
ROS_MODULES = ("rclpy", "sensor_msgs.msg", "std_msgs.msg", "diagnostic_msgs.msg",
               "rcl_interfaces.srv")
_ros_outcomes = {}
"""nodeid -> 'passed', 'failed' or 'skipped' of every `ros` test run."""


def import_ros():
    """Import rclpy and the message packages the tests use -> the rclpy module.

    Skips the calling test (or module) with the reason when one is missing; fails instead
    with BODYPIX_REQUIRE_ROS=1.
    """
    for name in ROS_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            reason = (f"{name} is not importable ({error}): install the `ros` extra "
                      f"(pip install -e '.[ros]') or source ROS 2 (Humble or Jazzy)")
            if REQUIRE_ROS:
                pytest.fail(f"BODYPIX_REQUIRE_ROS=1 but {reason}", pytrace=False)
            pytest.skip(reason, allow_module_level=True)
    return importlib.import_module("rclpy")


def pytest_configure(config):
    config.addinivalue_line("markers", "ros: runs ROS 2 for real (rclpy, DDS)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Count the outcomes of `ros` tests; with BODYPIX_REQUIRE_ROS=1 a skipped one fails."""
    report = (yield).get_result()
    if item.get_closest_marker("ros") is None:
        return
    if report.skipped and REQUIRE_ROS:
        report.outcome = "failed"
        report.longrepr = f"BODYPIX_REQUIRE_ROS=1 but this ROS test was skipped: {report.longrepr}"
    if _ros_outcomes.get(item.nodeid) in (None, "passed"):
        _ros_outcomes[item.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    if _ros_outcomes or REQUIRE_ROS:
        outcomes = list(_ros_outcomes.values())
        counts = ", ".join(f"{outcomes.count(outcome)} {outcome}"
                           for outcome in ("passed", "failed", "skipped"))
        terminalreporter.write_line(f"ROS tests (marker ros, rclpy {_rclpy_origin()}): {counts}")


def _rclpy_origin() -> str:
    spec = importlib.util.find_spec("rclpy")
    return "not importable" if spec is None else f"from {Path(spec.origin).parent}"


def ros2_types():
    """ROS 2 Humble message classes by name ('sensor_msgs/msg/Image') from rosbags; skips
    without it."""
    typesys = pytest.importorskip("rosbags.typesys",
                                  reason="rosbags provides ROS 2 message types without ROS")
    return typesys.get_typestore(typesys.Stores.ROS2_HUMBLE).types


def parameter_defaults() -> dict:
    """Every node parameter at its default: {parameter name: value}."""
    from bodypix_ros.ros.params import PARAMETERS

    return {spec.name: spec.default for spec in PARAMETERS}


def live_defaults() -> dict:
    """The node's live parameters at their defaults: {parameter name: value}."""
    from bodypix_ros.ros.params import LIVE_NAMES, PARAMETERS_BY_NAME

    return {name: PARAMETERS_BY_NAME[name].default for name in LIVE_NAMES}


def run_cli(capsys, command: str, *arguments):
    """`bodypix-ros COMMAND ARGUMENTS` on the shared models -> (status, stdout, stderr lines).

    argparse's exit on a malformed command line is returned as its status.
    """
    from bodypix_ros.cli.main import main

    try:
        status = main([command, "--model-base-url", str(MODELS), *map(str, arguments)])
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def grid_size(geometry) -> tuple:
    """(h, w) of the network's output grid for an InputGeometry: (input - 1) / stride + 1."""
    return tuple((side - 1) // geometry.output_stride + 1 for side in geometry.input_size)


def require_shared():
    if not MODELS.is_dir():
        pytest.skip(f"shared test data not found at {SHARED} (set BODYPIX_SHARED_DIR)")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require_shared()
    return SHARED


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Local mirror laid out like the official tree: models_dir / 'mobilenet/quant2/075/...'."""
    require_shared()
    return MODELS


_ENGINES = {}


def load_engine(name: str, backend: str = "tensorflow"):
    """A cached engine for model `name` (e.g. 'mobilenet_quant2_075_stride16') from ../shared."""
    require_shared()
    if (name, backend) not in _ENGINES:
        from bodypix_ros.engine import BodyPixEngine
        _ENGINES[name, backend] = BodyPixEngine.load(name, base_url=str(MODELS), backend=backend)
    return _ENGINES[name, backend]


@pytest.fixture(scope="session")
def engine():
    """The default model (MobileNetV1 0.75, quant2, stride 16)."""
    return load_engine("mobilenet_quant2_075_stride16")


def read_png(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        return np.array(image)


def reference_input(stem: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the exact pixels the original TFJS BodyPix saw."""
    require_shared()
    return read_png(REFERENCE / "inputs" / f"{stem}.png")[..., :3]


def assert_same_result(result, expected):
    for name in ("person_mask", "part_labels", "instances"):
        np.testing.assert_array_equal(getattr(result, name), getattr(expected, name), name)
    assert [person.score for person in result.persons] == [
        person.score for person in expected.persons]


def overlapping_stages(engine, first: np.ndarray, second: np.ndarray, settings):
    """The node's pipelining: run_network(second) runs before decode(first), on other threads."""
    runs, decoded = {}, {}
    runs["first"] = engine.run_network(first, settings)
    network = threading.Thread(
        target=lambda: runs.setdefault("second", engine.run_network(second, settings)))
    network.start()
    network.join()
    outputs = threading.Thread(
        target=lambda: decoded.setdefault("first", engine.decode(runs["first"], settings)))
    outputs.start()
    outputs.join()
    return decoded["first"], engine.decode(runs["second"], settings)

