"""Malformed model.json files: one-line ModelError, locally and over HTTP, and nothing cached."""

import json
import shutil

import pytest
from test_model_store import DEFAULT_PATH, cached_files, mirror, no_model_env  # noqa: F401

from bodypix_ros.errors import ModelError
from bodypix_ros.model.graph import DATA_TYPES, check_topology, load_graph_model
from bodypix_ros.model.store import resolve_model


def first_node_with(spec: dict, attribute: str) -> dict:
    return next(node for node in spec["modelTopology"]["node"]
                if attribute in node.get("attr", {}))


def without_op(spec):
    del spec["modelTopology"]["node"][3]["op"]


def topology_as_list(spec):
    spec["modelTopology"] = [spec["modelTopology"]]


def invalid_type_enum(spec):
    first_node_with(spec, "T")["attr"]["T"] = {"type": "DT_NOT_A_TYPE"}


def invalid_list_enum(spec):
    first_node_with(spec, "strides")["attr"]["strides"] = {"list": {"type": ["DT_FLOAT", "DT_X"]}}


def invalid_tensor_dtype(spec):
    first_node_with(spec, "value")["attr"]["value"]["tensor"]["dtype"] = "FLOAT"


def node_as_string(spec):
    spec["modelTopology"]["node"][0] = "Placeholder"


def no_nodes(spec):
    spec["modelTopology"] = {"versions": {}}


def attribute_of_two_kinds(spec):
    first_node_with(spec, "padding")["attr"]["padding"] = {"s": "U0FNRQ==", "i": "1"}


def padding_not_base64(spec):
    first_node_with(spec, "padding")["attr"]["padding"] = {"s": "SAME!"}


def inputs_not_names(spec):
    spec["modelTopology"]["node"][5]["input"] = [1, 2]


def integer_not_a_number(spec):
    first_node_with(spec, "strides")["attr"]["strides"] = {"list": {"i": ["1", "two"]}}


MALFORMED = {function.__name__: function for function in (
    without_op, topology_as_list, invalid_type_enum, invalid_list_enum, invalid_tensor_dtype,
    node_as_string, no_nodes, attribute_of_two_kinds, padding_not_base64, inputs_not_names,
    integer_not_a_number)}


def malformed_json(models_dir, name: str) -> bytes:
    spec = json.loads((models_dir / DEFAULT_PATH).read_text())
    MALFORMED[name](spec)
    return json.dumps(spec).encode()


def one_line_model_error(caught) -> str:
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_local_model_json_is_a_one_line_model_error(models_dir, tmp_path, name):
    folder = tmp_path / "model"
    shutil.copytree((models_dir / DEFAULT_PATH).parent, folder)
    model_json = folder / "model-stride16.json"
    model_json.write_bytes(malformed_json(models_dir, name))
    with pytest.raises(ModelError) as caught:
        load_graph_model(model_json)
    assert "is not a valid TFJS graph model" in one_line_model_error(caught)


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_download_is_refused_and_nothing_is_cached(
        mirror, models_dir, tmp_path, name):  # noqa: F811 (the imported fixture)
    mirror.replacements[DEFAULT_PATH] = malformed_json(models_dir, name)
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as caught:
        resolve_model(mirror.url + DEFAULT_PATH, cache_dir=str(cache))
    assert "is not a valid TFJS graph model" in one_line_model_error(caught)
    assert cached_files(cache) == []


def test_a_graph_def_error_the_structure_check_misses_is_a_model_error(models_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree((models_dir / DEFAULT_PATH).parent, folder)
    model_json = folder / "model-stride16.json"
    spec = json.loads(model_json.read_text())
    spec["modelTopology"]["node"][0]["attr"]["shape"] = {"shape": {"dim": [{"size": "wide"}]}}
    model_json.write_text(json.dumps(spec))
    with pytest.raises(ModelError) as caught:
        load_graph_model(model_json)
    assert "is not a valid TFJS graph model" in one_line_model_error(caught)


def test_every_shared_model_passes_the_structure_check(models_dir):
    paths = sorted(models_dir.rglob("model-stride*.json"))
    assert len(paths) == 12
    for path in paths:
        check_topology(json.loads(path.read_text())["modelTopology"])


def test_the_data_types_are_tensorflow_names():
    from tensorflow.core.framework import types_pb2

    assert DATA_TYPES <= set(types_pb2.DataType.keys())


@pytest.mark.parametrize("url,message", [
    ("http://../model-stride16.json", "has no valid host name"),
    ("http://a..b/model-stride16.json", "has no valid host name"),
    (f"http://{'a' * 70}.example/model-stride16.json", "cannot download"),
])
def test_urls_with_bad_host_names_are_model_errors(tmp_path, url, message):
    with pytest.raises(ModelError, match=message) as caught:
        resolve_model(url, cache_dir=str(tmp_path))
    one_line_model_error(caught)
