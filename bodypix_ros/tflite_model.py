"""The BodyPix network run by TensorFlow Lite (XNNPACK), converted from a loaded GraphModel.

TFLite needs a fixed input shape, so the network is converted once per input size (about
1 s) and the interpreter kept; a camera stream has one size, so this happens once.
"""

import logging
import os
from collections import OrderedDict

import numpy as np

from .graph_model import GraphModel

LOGGER = logging.getLogger("bodypix_ros")
MAX_CONVERTED_SIZES = 4
"""Interpreters kept (one per input size, least recently used dropped first)."""


def _interpreter_class():
    """LiteRT's interpreter when installed, else the one in the tensorflow wheel (same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TFLiteGraphModel:
    """Same interface as GraphModel: `output_names`, `__call__(batch [1, H, W, 3]) -> {name: tf.Tensor}`."""

    def __init__(self, graph: GraphModel, num_threads: int = 0):
        self.graph = graph
        self.output_names = list(graph.output_names)
        self.num_threads = num_threads or os.cpu_count() or 1
        self._interpreters = OrderedDict()

    def _interpreter(self, shape):
        if shape in self._interpreters:
            self._interpreters.move_to_end(shape)
            return self._interpreters[shape]
        import tensorflow as tf

        LOGGER.info("converting the network to TensorFlow Lite for input %dx%d", shape[2], shape[1])
        graph, names = self.graph, self.output_names

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def network(batch):
            outputs = graph(batch)
            return [outputs[name] for name in names]

        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
            [network.get_concrete_function()], network).convert()
        interpreter = _interpreter_class()(model_content=flatbuffer, num_threads=self.num_threads)
        interpreter.allocate_tensors()
        self._interpreters[shape] = interpreter
        if len(self._interpreters) > MAX_CONVERTED_SIZES:
            self._interpreters.popitem(last=False)
        return interpreter

    def __call__(self, batch):
        import tensorflow as tf

        interpreter = self._interpreter(tuple(batch.shape))
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.asarray(batch))
        interpreter.invoke()
        return {name: tf.constant(interpreter.get_tensor(detail["index"]))
                for name, detail in zip(self.output_names, interpreter.get_output_details())}
