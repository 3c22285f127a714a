"""The segment node's parameters: one table, no ROS.

`PARAMETERS` is the single source for the node's declarations (type, description,
range, read_only), for validating start-up values and `ros2 param set` requests,
for the README table (`python -m bodypix_ros.ros.params`) and for the test that
checks config/bodypix.yaml. Ranges and defaults of the inference settings come
from `settings.py`, overlay modes from `render.py`, the default model from `model.names`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from bodypix_ros.anonymize import (
    MARGIN_RANGE,
    METHODS,
    STRENGTH_RANGE,
    TARGETS,
    AnonymizeSettings,
    check_target,
)
from bodypix_ros.engine import BACKENDS
from bodypix_ros.errors import ParameterError, SettingsError
from bodypix_ros.frame_outputs import OUTPUT_NAMES, RenderConfig
from bodypix_ros.model.names import DEFAULT_MODEL
from bodypix_ros.render import OVERLAY_MODES
from bodypix_ros.ros.image_codec import DEFAULT_MAX_INPUT_PIXELS, MAX_INPUT_PIXELS_RANGE
from bodypix_ros.settings import (
    INTERNAL_RESOLUTION_NAMES,
    INTERNAL_RESOLUTION_RANGE,
    MAX_DETECTIONS_RANGE,
    REFINE_STEPS_RANGE,
    SegmentationSettings,
    check_part_filter,
    internal_resolution_fraction,
)

UNIT_RANGE = (0.0, 1.0)
MAX_RATE_RANGE = (0.0, 1000.0)
QOS_DEPTH_RANGE = (1, 100)
NETWORK_THREADS_RANGE = (0, 256)
INPUT_TRANSPORTS = ("raw", "compressed")
QOS_RELIABILITIES = ("best_effort", "reliable")
OUTPUT_TOPIC_PARAMETERS = {name: f"{name}_topic" for name in OUTPUT_NAMES}
"""Output name -> parameter holding its topic."""




@dataclass(frozen=True)
class ParameterSpec:
    """One node parameter.

    type_name: ROS type of the default ('bool', 'integer', 'double', 'string');
    value_range: inclusive (low, high) for integer/double; choices: allowed strings;
    read_only: start-up only (refused by `ros2 param set`); dynamic_typing: the value
    may also come as another ROS type, and `parse` turns any accepted form into
    the value the node uses; doc_type/doc_values: what the docs show for such values.
    """

    name: str
    default: Any
    type_name: str
    description: str
    value_range: Optional[Tuple[float, float]] = None
    choices: Tuple[str, ...] = ()
    read_only: bool = False
    dynamic_typing: bool = False
    parse: Optional[Callable[[Any], Any]] = None
    doc_type: str = ""
    doc_values: str = ""

    @property
    def live(self) -> bool:
        """Changeable while the node runs."""
        return not self.read_only


def parse_part_filter(value) -> Tuple[str, ...]:
    """A sequence of part names, a comma/space separated string, or an empty array of any type
    (`ros2 param set ... part_filter "[]"` sends a bool array) -> names in TFJS order.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not all(isinstance(name, str) for name in value):
            raise ParameterError(
                f"part_filter must list part names (strings), not {list(value)!r}"
            )
        names = [name.strip() for name in value if name.strip()]
    elif isinstance(value, str):
        names = value
    else:
        raise ParameterError(
            f"part_filter must be a list of part names or a string, not {value!r}"
        )
    try:
        return check_part_filter(names)
    except SettingsError as error:
        raise ParameterError(f"part_filter: {error}") from None


def parse_anonymize_target(value) -> str:
    """'persons', 'faces' or comma-separated part names -> the normalized target (validated)."""
    if not isinstance(value, str):
        raise ParameterError(f"anonymize.target must be a string, not {value!r}")
    try:
        return check_target(value)
    except SettingsError as error:
        raise ParameterError(f"anonymize.target: {error}") from None


def parse_internal_resolution(value):
    """'low|medium|high|full', a number, or a number as a string -> that value (validated)."""
    try:
        internal_resolution_fraction(value)
    except SettingsError as error:
        raise ParameterError(str(error)) from None
    return float(value) if isinstance(value, int) else value


_DEFAULTS = SegmentationSettings()
_ANONYMIZE = AnonymizeSettings()
_RESOLUTION_NAMES = ", ".join(INTERNAL_RESOLUTION_NAMES)

PARAMETERS: Tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "internal_resolution",
        _DEFAULTS.internal_resolution,
        "string",
        "Network input size as a fraction of the frame: "
        + ", ".join(f"{name} {fraction}" for name, fraction in INTERNAL_RESOLUTION_NAMES.items())
        + ", or a number; higher is finer and slower.",
        dynamic_typing=True,
        parse=parse_internal_resolution,
        doc_type="string or double",
        doc_values=f"{_RESOLUTION_NAMES} or "
        f"[{INTERNAL_RESOLUTION_RANGE[0]}, {INTERNAL_RESOLUTION_RANGE[1]}]",
    ),
    ParameterSpec(
        "segmentation_threshold",
        _DEFAULTS.segmentation_threshold,
        "double",
        "Person probability above which a pixel is person.",
        value_range=UNIT_RANGE,
    ),
    ParameterSpec(
        "part_filter",
        "",
        "string",
        "Body parts to keep in every output: a list like [left_face, right_face] or a "
        "comma-separated string; empty keeps all 24 parts.",
        dynamic_typing=True,
        parse=parse_part_filter,
        doc_type="string[] or string",
        doc_values="names from bodypix_ros.parts.PART_NAMES",
    ),
    ParameterSpec(
        "multi_person.enabled",
        _DEFAULTS.multi_person.enabled,
        "bool",
        "Decode person instances (needed by instances_topic and overlay_mode persons).",
    ),
    ParameterSpec(
        "multi_person.max_detections",
        _DEFAULTS.multi_person.max_detections,
        "integer",
        "Most persons returned per frame.",
        value_range=MAX_DETECTIONS_RANGE,
    ),
    ParameterSpec(
        "multi_person.score_threshold",
        _DEFAULTS.multi_person.score_threshold,
        "double",
        "Lowest pose score of a returned person.",
        value_range=UNIT_RANGE,
    ),
    ParameterSpec(
        "multi_person.nms_radius",
        _DEFAULTS.multi_person.nms_radius,
        "double",
        "Non-maximum suppression radius in network-input pixels.",
        doc_values="> 0",
    ),
    ParameterSpec(
        "multi_person.min_keypoint_score",
        _DEFAULTS.multi_person.min_keypoint_score,
        "double",
        "Lowest score of a keypoint used to assign pixels to a person.",
        value_range=UNIT_RANGE,
    ),
    ParameterSpec(
        "multi_person.refine_steps",
        _DEFAULTS.multi_person.refine_steps,
        "integer",
        "Offset refinement steps of the instance decode.",
        value_range=REFINE_STEPS_RANGE,
    ),
    ParameterSpec(
        "overlay_mode",
        OVERLAY_MODES[0],
        "string",
        "What overlay_topic draws on the image: parts, persons (needs multi_person.enabled) or "
        "mask colours; or a TFJS effect: bokeh (background blurred), blur_parts (faces blurred), "
        "pixelate (part colours in 10-px cells).",
        choices=OVERLAY_MODES,
    ),
    ParameterSpec(
        "overlay_alpha",
        0.7,
        "double",
        "Opacity of the overlay colours (0 = image only, 1 = colours only); also of pixelate.",
        value_range=UNIT_RANGE,
    ),
    ParameterSpec(
        "anonymize.target",
        _ANONYMIZE.target,
        "string",
        "What anonymized_topic covers: persons (the person mask), faces (left_face, right_face) "
        "or comma-separated part names.",
        parse=parse_anonymize_target,
        doc_values=f"{', '.join(TARGETS)} or part names from bodypix_ros.parts.PART_NAMES",
    ),
    ParameterSpec(
        "anonymize.method",
        _ANONYMIZE.method,
        "string",
        "How anonymized_topic covers the target: blur (Gaussian), pixelate (cells of one colour) "
        "or fill (black).",
        choices=METHODS,
    ),
    ParameterSpec(
        "anonymize.strength",
        _ANONYMIZE.strength,
        "double",
        "blur: Gaussian sigma in pixels of a 640-px frame, scaled with the frame's longer side; "
        "pixelate: cell side in pixels.",
        value_range=STRENGTH_RANGE,
    ),
    ParameterSpec(
        "anonymize.margin",
        _ANONYMIZE.margin,
        "integer",
        "Pixels the covered region extends beyond the target (covers mask edges the network "
        "misses).",
        value_range=MARGIN_RANGE,
    ),
    ParameterSpec(
        "anonymize.fail_closed",
        False,
        "bool",
        "Stop publishing anonymized_topic for good once a frame fails, is dropped because the "
        "node fell behind, or is reported lost in transport, so the topic carries every input "
        "frame or stops; set the parameter again to resume.",
    ),
    ParameterSpec(
        "max_rate",
        0.0,
        "double",
        "Most frames segmented per second (Hz); 0 = as fast as frames arrive.",
        value_range=MAX_RATE_RANGE,
    ),
    ParameterSpec(
        "model",
        DEFAULT_MODEL,
        "string",
        "BodyPix model: a short name like mobilenet_quant2_075_stride16 or "
        "resnet50_float_stride16, a model.json path or an http(s) URL.",
        read_only=True,
    ),
    ParameterSpec(
        "model_base_url",
        "",
        "string",
        "Where short model names are downloaded from: a URL or a local mirror directory; "
        "empty = $BODYPIX_MODEL_BASE_URL or the official TFJS storage.",
        read_only=True,
    ),
    ParameterSpec(
        "model_cache_dir",
        "",
        "string",
        "Download cache; empty = $BODYPIX_MODEL_CACHE_DIR, else $XDG_CACHE_HOME/bodypix_ros, "
        "else ~/.cache/bodypix_ros.",
        read_only=True,
    ),
    ParameterSpec(
        "backend",
        BACKENDS[0],
        "string",
        "What runs the network: tensorflow, or tflite (TensorFlow Lite with XNNPACK, same "
        "outputs, network alone faster, end to end no faster on x86; converts at the first "
        "frame, about 1 s).",
        choices=BACKENDS,
        read_only=True,
    ),
    ParameterSpec(
        "network_threads",
        0,
        "integer",
        "Threads that run the network (TensorFlow's op pools, TFLite's interpreter); 0 = one "
        "per core. Fewer leave cores to other processes on a busy robot.",
        value_range=NETWORK_THREADS_RANGE,
        read_only=True,
    ),
    ParameterSpec(
        "input_topic",
        "image",
        "string",
        "Input image topic (remappable); with input_transport compressed the node subscribes "
        "to <input_topic>/compressed.",
        read_only=True,
    ),
    ParameterSpec(
        "input_transport",
        INPUT_TRANSPORTS[0],
        "string",
        "raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage, JPEG or PNG).",
        choices=INPUT_TRANSPORTS,
        read_only=True,
    ),
    ParameterSpec(
        "mask_topic",
        "~/mask",
        "string",
        "Person mask output (mono8, 255 = person); empty disables it.",
        read_only=True,
    ),
    ParameterSpec(
        "part_labels_topic",
        "~/part_labels",
        "string",
        "Part label output (mono8, 0 = background, k + 1 = BodyPix part k); empty disables it.",
        read_only=True,
    ),
    ParameterSpec(
        "instances_topic",
        "~/instances",
        "string",
        "Person instance output (mono8, 0 = background, i = person i); empty disables it.",
        read_only=True,
    ),
    ParameterSpec(
        "overlay_topic",
        "~/overlay",
        "string",
        "Overlay output (rgb8, or bgr8 for blue-first input); empty disables it.",
        read_only=True,
    ),
    ParameterSpec(
        "max_input_pixels",
        DEFAULT_MAX_INPUT_PIXELS,
        "integer",
        "Pixel budget: input frames whose width x height exceeds it are rejected before decoding "
        "(JPEG/PNG sizes are read from their headers), so a small compressed frame cannot make "
        "the node allocate gigabytes.",
        value_range=MAX_INPUT_PIXELS_RANGE,
        read_only=True,
    ),
    ParameterSpec(
        "anonymized_topic",
        "~/anonymized",
        "string",
        "The input with anonymize.target covered, in the input's encoding and size (rgb8 or bgr8 "
        "for compressed input); a frame without persons passes unchanged; empty disables it.",
        read_only=True,
    ),
    ParameterSpec(
        "qos_reliability",
        QOS_RELIABILITIES[0],
        "string",
        "Input subscription reliability: best_effort (REP-2003 sensor data; matches every "
        "publisher) or reliable (only matches reliable publishers).",
        choices=QOS_RELIABILITIES,
        read_only=True,
    ),
    ParameterSpec(
        "qos_depth",
        1,
        "integer",
        "Queue depth of the input subscription and the output publishers; 1 keeps only the newest "
        "frame.",
        value_range=QOS_DEPTH_RANGE,
        read_only=True,
    ),
)

PARAMETERS_BY_NAME: Dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}
LIVE_NAMES = tuple(spec.name for spec in PARAMETERS if spec.live)
SETTINGS_NAMES = ("internal_resolution", "segmentation_threshold", "part_filter") + tuple(
    name for name in LIVE_NAMES if name.startswith("multi_person."))
"""Live parameters that are SegmentationSettings fields (`with_changes` keys)."""
ANONYMIZE_FIELDS = ("target", "method", "strength", "margin")
"""AnonymizeSettings fields set by the live parameters anonymize.<field>."""


@dataclass(frozen=True)
class LiveConfig(RenderConfig):
    """What the live parameters mean for the next frame; max_rate in Hz, 0 = unlimited.

    fail_closed: anonymize.fail_closed.
    """

    max_rate: float
    fail_closed: bool


@dataclass(frozen=True)
class StartupConfig:
    """Start-up parameters; empty strings of model_base_url/model_cache_dir become None.

    output_topics: output name ('mask', ...) -> topic, only for enabled outputs.
    """

    model: str
    model_base_url: Optional[str]
    model_cache_dir: Optional[str]
    backend: str
    network_threads: int
    input_topic: str
    input_transport: str
    output_topics: Dict[str, str]
    max_input_pixels: int
    qos_reliability: str
    qos_depth: int

    @property
    def subscribed_topic(self) -> str:
        """The topic the node subscribes to: input_topic, or <input_topic>/compressed
        (image_transport's name) with input_transport compressed.
        """
        if self.input_transport == "compressed":
            return self.input_topic.rstrip("/") + "/compressed"
        return self.input_topic


def check_value(spec: ParameterSpec, value):
    """Validate one value against its spec -> the value the node uses; ParameterError otherwise."""
    if spec.parse is not None:
        return spec.parse(value)
    if spec.type_name == "bool":
        if not isinstance(value, bool):
            raise ParameterError(f"{spec.name} must be true or false, not {value!r}")
        return value
    if spec.type_name == "string":
        if not isinstance(value, str):
            raise ParameterError(f"{spec.name} must be a string, not {value!r}")
        if spec.choices and value not in spec.choices:
            raise ParameterError(f"{spec.name} {value!r} is not one of {', '.join(spec.choices)}")
        return value
    numeric = (int,) if spec.type_name == "integer" else (int, float)
    if isinstance(value, bool) or not isinstance(value, numeric):
        raise ParameterError(
            f"{spec.name} must be {'an integer' if numeric == (int,) else 'a number'}, "
            f"not {value!r}"
        )
    if spec.value_range is not None and not spec.value_range[0] <= value <= spec.value_range[1]:
        raise ParameterError(
            f"{spec.name} {value} is outside [{spec.value_range[0]}, {spec.value_range[1]}]"
        )
    return value if spec.type_name == "integer" else float(value)


def live_config(values: Mapping[str, Any]) -> LiveConfig:
    """All live parameter values (by name) -> LiveConfig; ParameterError with the reason
    otherwise.
    """
    checked = {name: check_value(PARAMETERS_BY_NAME[name], values[name]) for name in LIVE_NAMES}
    try:
        settings = SegmentationSettings().with_changes(
            **{name: checked[name] for name in SETTINGS_NAMES}
        )
    except SettingsError as error:
        raise ParameterError(str(error)) from None
    try:
        anonymize = AnonymizeSettings(
            **{name: checked[f"anonymize.{name}"] for name in ANONYMIZE_FIELDS})
    except SettingsError as error:
        raise ParameterError(str(error)) from None
    return LiveConfig(settings, checked["overlay_mode"], checked["overlay_alpha"], anonymize,
                      checked["max_rate"], checked["anonymize.fail_closed"])


def updated_live_config(current: Mapping[str, Any], changes: Mapping[str, Any]) -> LiveConfig:
    """The LiveConfig after `changes` (name -> new value) on top of `current` live values.

    Names outside the table (e.g. use_sim_time) are ignored; a start-up parameter or any
    invalid value raises ParameterError, and nothing changes.
    """
    ours = {name: value for name, value in changes.items() if name in PARAMETERS_BY_NAME}
    frozen = [name for name in ours if PARAMETERS_BY_NAME[name].read_only]
    if frozen:
        raise ParameterError(f"{', '.join(frozen)} can only be set at start-up (read-only)")
    return live_config({**current, **ours})


def startup_config(values: Mapping[str, Any]) -> StartupConfig:
    """All start-up parameter values (by name) -> StartupConfig; ParameterError otherwise."""
    checked = {
        spec.name: check_value(spec, values[spec.name]) for spec in PARAMETERS if spec.read_only
    }
    if not checked["input_topic"].strip():
        raise ParameterError("input_topic must not be empty")
    outputs = {
        output: checked[parameter].strip()
        for output, parameter in OUTPUT_TOPIC_PARAMETERS.items()
        if checked[parameter].strip()
    }
    return StartupConfig(
        model=checked["model"].strip() or DEFAULT_MODEL,
        model_base_url=checked["model_base_url"].strip() or None,
        model_cache_dir=checked["model_cache_dir"].strip() or None,
        backend=checked["backend"],
        network_threads=checked["network_threads"],
        input_topic=checked["input_topic"].strip(),
        input_transport=checked["input_transport"],
        output_topics=outputs,
        max_input_pixels=checked["max_input_pixels"],
        qos_reliability=checked["qos_reliability"],
        qos_depth=checked["qos_depth"])


def parameter_table_markdown() -> str:
    """The README parameter table (markdown), generated from PARAMETERS."""
    rows = ["| Parameter | Type | Default | Valid values | Live | Description |",
            "|---|---|---|---|---|---|"]
    for spec in PARAMETERS:
        cells = [
            f"`{spec.name}`",
            spec.doc_type or spec.type_name,
            f"`{_yaml_literal(spec.default)}`",
            _valid_label(spec),
            "yes" if spec.live else "start-up",
            spec.description,
        ]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def _valid_label(spec: ParameterSpec) -> str:
    if spec.doc_values:
        return spec.doc_values
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.value_range is not None:
        return f"[{spec.value_range[0]}, {spec.value_range[1]}]"
    return ""


def _yaml_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    return repr(value)


def main() -> None:
    """Print the parameter table (for the README)."""
    print(parameter_table_markdown())


if __name__ == "__main__":
    main()
