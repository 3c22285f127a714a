"""The TensorFlow Lite backend gives the TensorFlow backend's outputs."""

import numpy as np
import pytest
from conftest import (
    MODELS,
    ONE_PERSON,
    REFERENCE,
    assert_same_result,
    load_engine,
    overlapping_stages,
    read_png,
    reference_input,
)

from bodypix_ros.engine import BodyPixEngine
from bodypix_ros.errors import ModelError
from bodypix_ros.settings import MultiPersonSettings, SegmentationSettings

MODEL = "mobilenet_quant2_075_stride16"
STRIDE8 = "mobilenet_quant2_075_stride8"
"""Dilated depthwise convs, rewritten by the loader into SpaceToBatchND / BatchToSpaceND."""


@pytest.fixture(scope="module")
def tflite_engine():
    return load_engine(MODEL, backend="tflite")


@pytest.mark.parametrize("model, stem", [(MODEL, "three_people"),
                                         (MODEL, "five_people_fauxels-3184419"),
                                         (STRIDE8, "five_people_fauxels-3184419")])
def test_tflite_matches_tensorflow_and_the_original(model, stem):
    tflite_engine = load_engine(model, backend="tflite")
    frame = reference_input(stem)[::2, ::2]
    ours = tflite_engine.segment(frame)
    reference = load_engine(model).segment(frame)
    mask, expected = ours.person_mask > 0, reference.person_mask > 0
    assert (mask & expected).sum() / (mask | expected).sum() >= 0.999
    assert (ours.part_labels == reference.part_labels).mean() >= 0.999
    full = tflite_engine.segment(reference_input(stem)).person_mask > 0
    original = read_png(REFERENCE / model / stem / "person_mask.png") > 127
    assert (full & original).sum() / (full | original).sum() >= 0.99


def test_tflite_keeps_one_interpreter_per_frame_size(tflite_engine):
    frame = reference_input("three_people")
    tflite_engine._lite_infer._interpreters.clear()
    for size in ((200, 300), (300, 200), (200, 300)):
        tflite_engine.segment(frame[:size[0], :size[1]])
    assert len(tflite_engine._lite_infer._interpreters) == 2


def test_unknown_backend_is_refused():
    with pytest.raises(ModelError, match="backend 'onnx'"):
        BodyPixEngine.load(MODEL, base_url=str(MODELS), backend="onnx")


@pytest.mark.parametrize("model", [MODEL, STRIDE8])
def test_tflite_returns_every_graph_output_under_its_name(model):
    """All eight outputs, not only the two the mask and part labels use: the person decode reads
    the offsets and displacements, whose pairs have equal shapes, so a mix-up would not raise."""
    import tensorflow as tf

    tflite_engine = load_engine(model, backend="tflite")
    batch = tf.random.stateless_uniform([1, 129, 97, 3], seed=(1, 2), minval=-1.0, maxval=1.0)
    expected, converted = tflite_engine.graph_model(batch), tflite_engine.network(batch)
    assert sorted(converted) == sorted(expected) and len(expected) == 8
    for name, tensor in expected.items():
        np.testing.assert_allclose(converted[name], tensor.numpy(), atol=2e-3, err_msg=name)


@pytest.mark.parametrize("with_parts", [True, False])
def test_tflite_inference_returns_every_output_under_its_name(tflite_engine, with_parts):
    """The converted input resize + network + scaling (one TFLite call) against the same function
    in TensorFlow, on a frame that needs padding."""
    frame = reference_input("three_people")[:120, :97]
    geometry = tflite_engine.geometry(frame.shape[:2], SegmentationSettings())
    assert any(geometry.padding)
    expected = load_engine(MODEL)._infer(frame, geometry, with_parts)
    converted = tflite_engine._infer(frame, geometry, with_parts)
    assert sorted(converted) == sorted(expected) and len(expected) == 9
    for name, values in expected.items():
        assert converted[name].shape == values.shape, name
        if name == "part_argmax":
            assert (converted[name] == values).mean() >= 0.999
        else:
            np.testing.assert_allclose(converted[name], values, atol=2e-3, err_msg=name)
    assert converted["part_argmax"].shape == (geometry.input_size if with_parts else (1, 1))


def test_tflite_stages_overlap_like_the_node_runs_them(tflite_engine):
    first = reference_input(ONE_PERSON)[::2, ::2]
    second = reference_input("three_people")[::2, ::2]
    settings = SegmentationSettings(multi_person=MultiPersonSettings(enabled=True))
    first_result, second_result = overlapping_stages(tflite_engine, first, second, settings)
    assert_same_result(first_result, tflite_engine.segment(first, settings))
    assert_same_result(second_result, tflite_engine.segment(second, settings))
