"""The lean TFJS graph-model loader: weight decoding, bad files, tf-bodypix compatibility."""

import json

import numpy as np
import pytest
from conftest import MODELS, REFERENCE, read_png, reference_input

from bodypix_ros.errors import ModelError
from bodypix_ros.model.graph import decode_weights, load_graph_model, output_names, read_model_json


def write_shard(folder, entries, payloads):
    (folder / "shard.bin").write_bytes(b"".join(payloads))
    return [{"paths": ["shard.bin"], "weights": entries}]


def test_dequantizes_1_and_2_byte_weights_like_tfjs(tmp_path):
    q8 = np.array([0, 1, 255, 128], np.uint8)
    q16 = np.array([0, 65535, 300], np.uint16)
    plain = np.array([[1.5, -2.25]], np.float32)
    entries = [
        {"name": "a", "shape": [2, 2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01}},
        {"name": "b", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "uint16", "min": 0.5, "scale": 1e-4}},
        {"name": "c", "shape": [1, 2], "dtype": "float32"},
    ]
    manifest = write_shard(tmp_path, entries, [q8.tobytes(), q16.tobytes(), plain.tobytes()])
    weights = decode_weights(manifest, tmp_path)
    np.testing.assert_array_equal(weights["a"], (q8 * 0.01 - 1.0).astype(np.float32).reshape(2, 2))
    np.testing.assert_array_equal(weights["b"], (q16 * 1e-4 + 0.5).astype(np.float32))
    np.testing.assert_array_equal(weights["c"], plain)
    assert all(w.dtype == np.float32 for w in weights.values())


def test_truncated_shard_is_rejected(tmp_path):
    entries = [{"name": "c", "shape": [4], "dtype": "float32"}]
    manifest = write_shard(tmp_path, entries, [np.zeros(3, np.float32).tobytes()])
    with pytest.raises(ModelError, match="12 bytes but the model.json lists 16"):
        decode_weights(manifest, tmp_path)


def test_unsupported_weight_dtype_is_a_model_error(tmp_path):
    entries = [
        {
            "name": "z",
            "shape": [2],
            "dtype": "complex64",
            "quantization": {"dtype": "uint8", "min": 0.0, "scale": 1.0},
        }
    ]
    manifest = write_shard(tmp_path, entries, [bytes(2)])
    with pytest.raises(ModelError, match="'z' has unsupported dtype 'complex64'"):
        decode_weights(manifest, tmp_path)


def test_missing_shard_is_rejected(tmp_path):
    manifest = [{"paths": ["nowhere.bin"], "weights": []}]
    with pytest.raises(ModelError, match="cannot read weight shard"):
        decode_weights(manifest, tmp_path)


def test_bad_model_json_is_rejected(tmp_path):
    broken = tmp_path / "model.json"
    broken.write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_model_json(broken)
    broken.write_text(json.dumps({"format": "layers-model"}))
    with pytest.raises(ModelError, match="not a TFJS graph model"):
        read_model_json(broken)
    broken.write_text(json.dumps({"modelTopology": {"node": [{"name": "x", "op": "MagicOp"}]},
                                  "weightsManifest": []}))
    with pytest.raises(ModelError, match="MagicOp"):
        read_model_json(broken)


def test_output_names_are_the_unconsumed_nodes():
    nodes = [{"name": "in", "op": "Placeholder"}, {"name": "w", "op": "Const"},
             {"name": "conv", "op": "Conv2D", "input": ["in", "w"]},
             {"name": "relu", "op": "Relu", "input": ["conv:0"]},
             {"name": "side", "op": "Sigmoid", "input": ["conv"]}]
    assert output_names(nodes) == ["relu", "side"]


def test_loaded_model_feeds_tf_bodypix_wrapper(models_dir):
    from tf_bodypix.model import BodyPixModelWrapper, MobileNetBodyPixPredictWrapper

    graph = load_graph_model(models_dir / "mobilenet/quant2/075/model-stride16.json")
    wrapper = BodyPixModelWrapper(MobileNetBodyPixPredictWrapper(graph), output_stride=16)
    stem = "three_people"
    mask = (
        wrapper.predict_single(reference_input(stem)).get_mask(threshold=0.7).numpy()[..., 0] > 0
    )
    expected = (
        read_png(REFERENCE / "mobilenet_quant2_075_stride16" / stem / "person_mask.png") > 127
    )
    iou = (mask & expected).sum() / (mask | expected).sum()
    assert 0.85 < iou < 0.99  # tf-bodypix's own resize: close to, not equal to, TFJS


def test_shared_models_have_the_bodypix_outputs():
    if not MODELS.is_dir():
        pytest.skip("shared models absent")
    spec = read_model_json(MODELS / "mobilenet/float/050/model-stride8.json")
    names = output_names(spec["modelTopology"]["node"])
    for needle in ("float_segments", "float_part_heatmaps", "float_heatmaps", "float_long_offsets",
                   "displacement_fwd", "displacement_bwd", "float_short_offsets"):
        assert sum(needle in name for name in names) == 1


def dilated_model(folder, depthwise_strides=(1, 1, 1, 1)):
    """A TFJS-style model.json + shard in `folder`: input [1, H, W, 3] -> depthwise conv (filter
    [3, 3, 3, 2], dilations stored [1, 3, 2, 1]) -> Relu and Conv2D (filter [3, 3, 6, 4],
    dilations stored [2, 2, 1, 1], read as TFJS does: height 2, width 1) -> (model.json path,
    {filter name: float32 array})."""
    rng = np.random.default_rng(7)
    filters = {"depthwise_filter": rng.normal(size=(3, 3, 3, 2)).astype(np.float32),
               "conv_filter": rng.normal(size=(3, 3, 6, 4)).astype(np.float32)}

    def ints(values):
        return {"list": {"i": [str(value) for value in values]}}

    def conv(name, op, inputs, strides, dilations):
        return {"name": name, "op": op, "input": inputs,
                "attr": {"T": {"type": "DT_FLOAT"}, "padding": {"s": "U0FNRQ=="},  # SAME
                         "data_format": {"s": "TkhXQw=="}, "strides": ints(strides),  # NHWC
                         "dilations": ints(dilations)}}

    nodes = [{"name": "input", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}}]
    nodes += [{"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}}
              for name in filters]
    nodes += [conv("depthwise", "DepthwiseConv2dNative", ["input", "depthwise_filter"],
                   depthwise_strides, [1, 3, 2, 1]),
              {"name": "relu", "op": "Relu", "input": ["depthwise"],
               "attr": {"T": {"type": "DT_FLOAT"}}},
              conv("conv", "Conv2D", ["depthwise", "conv_filter"], [1, 1, 1, 1], [2, 2, 1, 1])]
    entries = [{"name": name, "shape": list(array.shape), "dtype": "float32"}
               for name, array in filters.items()]
    manifest = write_shard(folder, entries, [array.tobytes() for array in filters.values()])
    path = folder / "model.json"
    path.write_text(json.dumps({"modelTopology": {"node": nodes}, "weightsManifest": manifest}))
    return path, filters


@pytest.mark.parametrize("size", [(23, 17), (16, 16), (5, 9)])
def test_dilated_convs_match_tf_nn_on_every_kernel(tmp_path, size):
    """Run with TF_ENABLE_ONEDNN_OPTS=0 too (test_kernel_paths.py): TensorFlow's stock depthwise
    kernel rejects dilations, so the loader must have rewritten them."""
    import tensorflow as tf

    path, filters = dilated_model(tmp_path)
    model = load_graph_model(path)
    batch = tf.random.stateless_normal([1, *size, 3], seed=(3, 4))
    outputs = model(batch)
    depthwise = tf.nn.depthwise_conv2d(batch, filters["depthwise_filter"], [1, 1, 1, 1], "SAME",
                                       dilations=[3, 2])
    conv = tf.nn.conv2d(depthwise, filters["conv_filter"], 1, "SAME", dilations=[2, 1])
    expected = {"relu": tf.nn.relu(depthwise), "conv": conv}
    assert sorted(outputs) == sorted(expected)
    for name, tensor in expected.items():
        np.testing.assert_allclose(outputs[name].numpy(), tensor.numpy(), rtol=1e-5, atol=1e-4,
                                   err_msg=name)
    operations = model._function.get_concrete_function().graph.get_operations()
    dilated = [op.name for op in operations if op.type == "DepthwiseConv2dNative"
               and list(op.get_attr("dilations")) != [1, 1, 1, 1]]
    assert not dilated and any(op.type == "SpaceToBatchND" for op in operations)


def test_dilated_strided_conv_is_a_model_error(tmp_path):
    path, _ = dilated_model(tmp_path, depthwise_strides=(1, 2, 2, 1))
    with pytest.raises(ModelError, match="'depthwise' has dilations .3, 2. and strides .2, 2."):
        load_graph_model(path)


def test_dilated_conv_without_strides_is_a_model_error(tmp_path):
    path, _ = dilated_model(tmp_path, depthwise_strides=())
    with pytest.raises(ModelError, match="'depthwise' lacks 4-entry strides and dilations"):
        load_graph_model(path)
