"""TensorFlow functions of an image batch run by TensorFlow Lite (XNNPACK).

TFLite needs fixed shapes, so a function is converted once per batch shape (about 1 s) and its
interpreter kept; a camera stream has one size, so this happens once.
"""

import logging
import os
from collections import OrderedDict
from typing import Callable, Dict, Sequence

import numpy as np

LOGGER = logging.getLogger("bodypix_ros")
MAX_CONVERTED_SIZES = 4
"""Interpreters kept (one per batch shape, least recently used dropped first)."""


def _interpreter_class():
    """LiteRT's interpreter when installed, else the one in the tensorflow wheel (same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TFLiteFunction:
    """`function(batch, *extras) -> {name: tf.Tensor}` run by TFLite: call with a float32
    [1, H, W, 3] batch and the extras -> {name: np.ndarray}.

    extra_specs: a named tf.TensorSpec per extra argument (fixed shape, e.g. a bool flag).
    """

    def __init__(self, function: Callable, extra_specs: Sequence = (), num_threads: int = 0):
        self.function = function
        self.extra_specs = tuple(extra_specs)
        self.num_threads = num_threads or os.cpu_count() or 1
        self._interpreters = OrderedDict()

    def _interpreter(self, shape):
        """(interpreter, output names, input details in argument order) for batches of `shape`."""
        if shape in self._interpreters:
            self._interpreters.move_to_end(shape)
            return self._interpreters[shape]
        import tensorflow as tf

        LOGGER.info("converting the network to TensorFlow Lite for input %dx%d", shape[2], shape[1])
        specs = (tf.TensorSpec(shape, tf.float32, name="batch"),) + self.extra_specs
        names = sorted(tf.function(self.function).get_concrete_function(*specs).structured_outputs)

        @tf.function(input_signature=specs)
        def listed(*arguments):
            outputs = self.function(*arguments)
            return [outputs[name] for name in names]

        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
            [listed.get_concrete_function()], listed).convert()
        interpreter = _interpreter_class()(model_content=flatbuffer, num_threads=self.num_threads)
        interpreter.allocate_tensors()
        by_name = {detail["name"]: detail for detail in interpreter.get_input_details()}
        inputs = [by_name[spec.name] for spec in specs]
        self._interpreters[shape] = interpreter, names, inputs
        if len(self._interpreters) > MAX_CONVERTED_SIZES:
            self._interpreters.popitem(last=False)
        return self._interpreters[shape]

    def __call__(self, batch, *extras) -> Dict[str, np.ndarray]:
        interpreter, names, inputs = self._interpreter(tuple(batch.shape))
        for detail, value in zip(inputs, (batch,) + extras):
            interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        interpreter.invoke()
        return {name: interpreter.get_tensor(detail["index"])
                for name, detail in zip(names, interpreter.get_output_details())}
