"""TensorFlow functions run by TensorFlow Lite (XNNPACK).

TFLite needs fixed shapes, so a function is converted once per set of input shapes (about 1 s)
and its interpreter kept; a camera stream has one size, so this happens once.
"""

import logging
import os
from collections import OrderedDict
from typing import Callable, Dict, Sequence

import numpy as np

LOGGER = logging.getLogger("bodypix_ros")
MAX_CONVERTED = 4
"""Interpreters kept (one per set of input shapes, least recently used dropped first)."""


def _interpreter_class():
    """LiteRT's interpreter when installed, else the one in the tensorflow wheel (same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter as interpreter_class  # noqa: N813
    except ImportError:
        import tensorflow as tf

        interpreter_class = tf.lite.Interpreter
    return interpreter_class


class TFLiteFunction:
    """`function(*inputs) -> {name: tf.Tensor}` run by TFLite: call with numpy inputs (named
    `input_names`) -> {name: np.ndarray}.
    """

    def __init__(self, function: Callable, input_names: Sequence[str], num_threads: int = 0):
        self.function = function
        self.input_names = tuple(input_names)
        self.num_threads = num_threads or os.cpu_count() or 1
        self._interpreters = OrderedDict()

    def _interpreter(self, inputs: Sequence[np.ndarray]):
        """(interpreter, output names, input details in argument order) for these input shapes."""
        key = tuple((array.shape, array.dtype.str) for array in inputs)
        if key in self._interpreters:
            self._interpreters.move_to_end(key)
            return self._interpreters[key]
        import tensorflow as tf

        LOGGER.info(
            "converting to TensorFlow Lite for inputs %s", [array.shape for array in inputs]
        )
        specs = [tf.TensorSpec(array.shape, tf.as_dtype(array.dtype), name=name)
                 for array, name in zip(inputs, self.input_names)]
        names = sorted(tf.function(self.function).get_concrete_function(*specs).structured_outputs)

        @tf.function(input_signature=specs)
        def listed(*tensors):
            outputs = self.function(*tensors)
            return [outputs[name] for name in names]

        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
            [listed.get_concrete_function()], listed).convert()
        interpreter = _interpreter_class()(model_content=flatbuffer, num_threads=self.num_threads)
        interpreter.allocate_tensors()
        by_name = {detail["name"]: detail for detail in interpreter.get_input_details()}
        self._interpreters[key] = interpreter, names, [by_name[name] for name in self.input_names]
        if len(self._interpreters) > MAX_CONVERTED:
            self._interpreters.popitem(last=False)
        return self._interpreters[key]

    def __call__(self, *inputs) -> Dict[str, np.ndarray]:
        inputs = [np.asarray(array) for array in inputs]
        interpreter, names, details = self._interpreter(inputs)
        for detail, array in zip(details, inputs):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        return {name: interpreter.get_tensor(detail["index"])
                for name, detail in zip(names, interpreter.get_output_details())}
