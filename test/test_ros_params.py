"""The node's parameter table and its validation (no ROS needed)."""

import array
import re

import pytest
from conftest import PYTHON_TYPES, live_defaults, parameter_defaults

from bodypix_ros.anonymize import AnonymizeSettings
from bodypix_ros.errors import ParameterError, SettingsError
from bodypix_ros.model.names import DEFAULT_MODEL
from bodypix_ros.parts import PART_NAMES
from bodypix_ros.render import OVERLAY_MODES
from bodypix_ros.ros.params import (
    PARAMETERS,
    PARAMETERS_BY_NAME,
    check_value,
    live_config,
    parameter_table_markdown,
    startup_config,
    updated_live_config,
)
from bodypix_ros.settings import MAX_DETECTIONS_RANGE, REFINE_STEPS_RANGE, SegmentationSettings

# The split the issue asks for (GitHub issue 4, part 2), and the pixel budget (issue 12).
ISSUE_LIVE = {
    "internal_resolution",
    "segmentation_threshold",
    "part_filter",
    "multi_person.enabled",
    "multi_person.max_detections",
    "multi_person.score_threshold",
    "multi_person.nms_radius",
    "multi_person.min_keypoint_score",
    "multi_person.refine_steps",
    "overlay_mode",
    "overlay_alpha",
    "max_rate",
    # issue 14
    "anonymize.target",
    "anonymize.method",
    "anonymize.strength",
    "anonymize.margin",
    "anonymize.fail_closed",
}
ISSUE_STARTUP = {
    "model",
    "model_base_url",
    "model_cache_dir",
    "backend",
    "network_threads",
    "input_topic",
    "mask_topic",
    "part_labels_topic",
    "instances_topic",
    "overlay_topic",
    "input_transport",
    "max_input_pixels",
    "qos_reliability",
    "qos_depth",
    "anonymized_topic",
}


def test_table_has_exactly_the_issues_parameters_split_into_live_and_startup():
    assert len(PARAMETERS) == len(PARAMETERS_BY_NAME)
    assert {spec.name for spec in PARAMETERS if spec.live} == ISSUE_LIVE
    assert {spec.name for spec in PARAMETERS if spec.read_only} == ISSUE_STARTUP


@pytest.mark.parametrize("spec", PARAMETERS, ids=lambda spec: spec.name)
def test_each_default_has_its_declared_ros_type_and_is_valid(spec):
    # rclpy infers a statically typed parameter's type from its default
    assert type(spec.default) is PYTHON_TYPES[spec.type_name]
    check_value(spec, spec.default)
    assert spec.description.strip()
    assert spec.value_range is None or spec.type_name in ("integer", "double")


def test_defaults_are_the_engines_defaults():
    config = live_config(parameter_defaults())
    assert config.settings == SegmentationSettings()
    assert config.overlay_mode == OVERLAY_MODES[0] and config.max_rate == 0.0
    assert config.anonymize == AnonymizeSettings() and config.fail_closed is False
    startup = startup_config(parameter_defaults())
    assert startup.model == DEFAULT_MODEL
    assert startup.output_topics == {"mask": "~/mask", "part_labels": "~/part_labels",
                                     "instances": "~/instances", "overlay": "~/overlay",
                                     "anonymized": "~/anonymized"}
    assert (startup.input_topic, startup.input_transport, startup.subscribed_topic) == (
        "image",
        "raw",
        "image",
    )
    assert (startup.qos_reliability, startup.qos_depth) == ("best_effort", 1)
    assert startup.model_base_url is None and startup.model_cache_dir is None


def test_descriptor_ranges_are_the_settings_ranges():
    assert PARAMETERS_BY_NAME["multi_person.max_detections"].value_range == MAX_DETECTIONS_RANGE
    assert PARAMETERS_BY_NAME["multi_person.refine_steps"].value_range == REFINE_STEPS_RANGE
    assert PARAMETERS_BY_NAME["overlay_mode"].choices == OVERLAY_MODES


def _just_outside(spec, value, direction):
    return value + direction * (1 if spec.type_name == "integer" else 1e-6)


@pytest.mark.parametrize("spec", [spec for spec in PARAMETERS if spec.live and spec.value_range],
                         ids=lambda spec: spec.name)
def test_range_ends_are_accepted_and_values_past_them_refused(spec):
    """The ROS descriptor range (what `ros2 param describe` shows) agrees with the validation."""
    for end, direction in zip(spec.value_range, (-1, 1)):
        value = end if spec.type_name == "integer" else float(end)
        live_config({**live_defaults(), spec.name: value})
        with pytest.raises(ParameterError, match=re.escape(spec.name.split(".")[-1])):
            live_config({**live_defaults(), spec.name: _just_outside(spec, value, direction)})


@pytest.mark.parametrize("name,value,reason", [
    ("segmentation_threshold", 1.5, "outside"),
    ("overlay_mode", "rainbow", "not one of"),
    ("part_filter", ["left_face", "tail"], "unknown part name"),
    ("part_filter", "left_face, wings", "unknown part name"),
    ("part_filter", [1, 2], "strings"),
    ("part_filter", array.array("q", [1, 2]), "strings"),  # an integer array as rclpy holds it
    ("part_filter", 3, "list of part names"),
    ("internal_resolution", "ultra", "internal_resolution"),
    ("internal_resolution", 5.0, "outside"),
    ("internal_resolution", True, "internal_resolution"),
    ("multi_person.enabled", "yes", "true or false"),
    ("multi_person.max_detections", 2.5, "integer"),
    ("multi_person.nms_radius", 0.0, "nms_radius"),
    ("multi_person.nms_radius", -3.0, "nms_radius"),
    ("overlay_alpha", -0.1, "outside"),
    ("max_rate", -1.0, "outside"),
    ("anonymize.target", "elbows", "unknown part name"),
    ("anonymize.target", "", "empty"),
    ("anonymize.target", 3, "string"),
    ("anonymize.method", "smudge", "not one of"),
    ("anonymize.margin", 2.5, "integer"),
    ("anonymize.fail_closed", "yes", "true or false"),
])
def test_invalid_live_values_are_refused_with_a_reason(name, value, reason):
    current = live_defaults()
    before = dict(current)
    with pytest.raises(ParameterError, match=reason):
        updated_live_config(current, {name: value})
    assert current == before
    assert issubclass(ParameterError, ValueError) and not issubclass(ParameterError, SettingsError)


def test_a_valid_change_gives_the_next_frames_config():
    config = updated_live_config(live_defaults(), {"segmentation_threshold": 0.6,
                                                   "multi_person.refine_steps": 5,
                                                   "overlay_mode": "persons", "max_rate": 2.0})
    assert config.settings.segmentation_threshold == 0.6
    assert config.settings.multi_person.refine_steps == 5
    assert config.overlay_mode == "persons" and config.max_rate == 2.0
    assert config.settings.internal_resolution == SegmentationSettings().internal_resolution
    config = updated_live_config(live_defaults(), {"anonymize.target": "right_hand, left_hand",
                                                   "anonymize.method": "pixelate",
                                                   "anonymize.strength": 24.0,
                                                   "anonymize.margin": 0})
    assert config.anonymize == AnonymizeSettings("left_hand,right_hand", "pixelate", 24.0, 0)


def test_parameters_outside_the_table_are_left_to_others():
    config = updated_live_config(live_defaults(), {"use_sim_time": True, "qos_overrides./x": 1})
    assert config == live_config(live_defaults())


def test_startup_parameters_cannot_change_live():
    with pytest.raises(ParameterError, match="start-up"):
        updated_live_config(live_defaults(), {"model": "mobilenet_float_050_stride16"})


@pytest.mark.parametrize("value", [[], "", (), array.array("q"), ["", "  "]])
def test_empty_part_filter_in_any_ros_form_keeps_all_parts(value):
    # `ros2 param set /bodypix part_filter "[]"` sends an empty bool array, "" an empty string
    assert updated_live_config(live_defaults(), {"part_filter": value}).settings.part_filter == ()


@pytest.mark.parametrize("value", [["right_hand", "left_face"], "right_hand,left_face",
                                   "right_hand left_face", ("left_face", " right_hand ")])
def test_part_filter_accepts_lists_and_strings_in_tfjs_order(value):
    config = updated_live_config(live_defaults(), {"part_filter": value})
    assert config.settings.part_filter == tuple(name for name in PART_NAMES
                                                if name in ("left_face", "right_hand"))


@pytest.mark.parametrize("value,fraction", [
    ("high", 0.75), ("full", 1.0), (0.6, 0.6), (1, 1.0), ("0.4", 0.4)])
def test_internal_resolution_accepts_names_and_numbers(value, fraction):
    config = updated_live_config(live_defaults(), {"internal_resolution": value})
    assert config.settings.resolution_fraction == pytest.approx(fraction)


def test_empty_output_topics_disable_outputs_and_paths_are_kept():
    values = {
        **parameter_defaults(),
        "instances_topic": "",
        "overlay_topic": "  ",
        "anonymized_topic": "",
        "model_base_url": "/srv/models",
        "model_cache_dir": "~/cache",
        "input_topic": "/cam/image",
    }
    startup = startup_config(values)
    assert set(startup.output_topics) == {"mask", "part_labels"}
    assert (startup.model_base_url, startup.model_cache_dir) == ("/srv/models", "~/cache")
    assert startup.input_topic == startup.subscribed_topic == "/cam/image"
    assert startup.network_threads == 0
    compressed = startup_config(
        {**values, "input_transport": "compressed", "input_topic": "/cam/image/"}
    )
    assert compressed.subscribed_topic == "/cam/image/compressed"


@pytest.mark.parametrize("name,value,reason", [
    ("input_transport", "theora", "not one of"),
    ("qos_reliability", "sometimes", "not one of"),
    ("qos_depth", 0, "outside"),
    ("qos_depth", 1.0, "integer"),
    ("network_threads", -1, "outside"),
    ("network_threads", 2.0, "integer"),
    ("max_input_pixels", 0, "outside"),
    ("max_input_pixels", 2**30 + 1, "outside"),
    ("input_topic", " ", "empty"),
    ("mask_topic", 5, "string"),
])
def test_invalid_startup_values_are_refused(name, value, reason):
    with pytest.raises(ParameterError, match=reason):
        startup_config({**parameter_defaults(), name: value})


def test_markdown_table_has_one_well_formed_row_per_parameter():
    lines = parameter_table_markdown().splitlines()
    columns = len(re.findall(r"(?<!\\)\|", lines[0]))
    assert len(lines) == 2 + len(PARAMETERS)
    for spec, line in zip(PARAMETERS, lines[2:]):
        assert line.startswith(f"| `{spec.name}` |")
        assert len(re.findall(r"(?<!\\)\|", line)) == columns
        assert ("start-up" in line) == spec.read_only
