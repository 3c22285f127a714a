"""Shared test fixtures: the `../shared` data folder and engines on its real models."""

import os
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


def ros2_types():
    """ROS 2 Humble message classes by name (e.g. 'sensor_msgs/msg/Image') from rosbags; skips without it."""
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
    """`bodypix-ros COMMAND ARGUMENTS` on the shared models -> (exit status, stdout lines, stderr lines);
    argparse's exit on a malformed command line is returned as its status."""
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
