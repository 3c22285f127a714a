"""Model names, specs and official paths (no network, no TensorFlow)."""

import re

import pytest

from bodypix_ros.errors import ModelError
from bodypix_ros.model.names import (
    DEFAULT_MODEL,
    OUTPUT_STRIDES,
    ModelSpec,
    all_model_specs,
    parse_model_name,
    spec_from_path,
)
from bodypix_ros.model.store import resolve_model

ALL_NAMES = tuple(spec.name for spec in all_model_specs())


def test_every_official_model_is_named_once():
    names = ALL_NAMES
    mobilenets = [name for name in names if name.startswith("mobilenet_")]
    resnets = [name for name in names if name.startswith("resnet50_")]
    assert len(set(names)) == len(names) == len(mobilenets) + len(resnets)
    assert len(mobilenets) == 3 * 3 * 2 and len(resnets) == 3 * 2
    assert DEFAULT_MODEL in names


@pytest.mark.parametrize("name", ALL_NAMES)
def test_name_round_trip(name):
    spec = parse_model_name(name)
    assert spec.name == name
    assert parse_model_name(name.upper()) == spec
    assert spec_from_path("https://host/x/" + spec.relative_path) == spec
    assert spec.output_stride in OUTPUT_STRIDES[spec.architecture]
    assert f"stride{spec.output_stride}" in name and spec.quant in name


def test_relative_paths_follow_the_official_tree():
    assert parse_model_name("mobilenet_quant2_075_stride16").relative_path == \
        "mobilenet/quant2/075/model-stride16.json"
    assert parse_model_name("mobilenet_float_100_stride8").relative_path == \
        "mobilenet/float/100/model-stride8.json"
    assert (
        parse_model_name("resnet50_float_stride32").relative_path
        == "resnet50/float/model-stride32.json"
    )
    assert (
        parse_model_name("resnet50_quant1_stride16").relative_path
        == "resnet50/quant1/model-stride16.json"
    )
    for spec in all_model_specs():
        if spec.architecture == "resnet50":
            assert spec.multiplier is None and re.fullmatch(r"resnet50/\w+/model-stride\d+\.json",
                                                            spec.relative_path)


def test_shared_mirror_holds_the_named_files(models_dir):
    available = [spec for spec in all_model_specs() if (models_dir / spec.relative_path).is_file()]
    assert parse_model_name(DEFAULT_MODEL) in available
    assert len(available) == 12  # 6 MobileNet folders x 2 strides (see ../shared/README.md)


@pytest.mark.parametrize("typo", ["mobilenet_quant2_075_strid16", "mobilenet_quant3_075_stride16",
                                  "mobilenet_quant2_075_stride32", "resnet50_float_075_stride16",
                                  "resnet_float_stride16", ""])
def test_typos_are_rejected_with_the_valid_names(typo):
    with pytest.raises(ModelError) as caught:
        parse_model_name(typo)
    message = str(caught.value)
    assert DEFAULT_MODEL in message and "resnet50_float_stride32" in message


def test_empty_model_is_a_name_error_not_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=f"unknown model ''.*{DEFAULT_MODEL}"):
        resolve_model("", cache_dir=str(tmp_path))


def test_typo_suggests_the_closest_name():
    with pytest.raises(ModelError, match="did you mean mobilenet_quant2_075_stride16"):
        parse_model_name("mobilenet_quant2_075_strid16")


@pytest.mark.parametrize("fields", [
    ("mobilenet_v1", "quant2", None, 16), ("resnet50", "float", 0.5, 16),
    ("mobilenet_v1", "quant2", 0.75, 32), ("resnet50", "float", None, 8),
    ("mobilenet_v1", "int8", 0.75, 16), ("vgg", "float", None, 16)])
def test_invalid_specs_are_rejected(fields):
    with pytest.raises(ModelError):
        ModelSpec(*fields)


def test_spec_from_path_ignores_other_layouts():
    assert spec_from_path("/models/my-model-stride16.json") is None
    assert spec_from_path("mobilenet/quant2/075/model-stride32.json") is None
    assert spec_from_path("C:\\m\\resnet50\\quant2\\model-stride32.json") == \
        ModelSpec("resnet50", "quant2", None, 32)


def test_model_errors_name_the_setting_for_node_and_command_line_users(tmp_path):
    with pytest.raises(ModelError) as raised:
        resolve_model(DEFAULT_MODEL, base_url=str(tmp_path / "missing"), cache_dir=str(tmp_path))
    message = str(raised.value)
    assert "model_base_url (node parameter" in message and "--model-base-url" in message
