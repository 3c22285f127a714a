"""The BodyPix engine: an RGB frame in, person mask, part labels and persons out.

Reproduces TFJS body-pix 2.2 step by step (`body_pix_model.ts`, `util.ts`): zero-pad the
frame to the network's aspect ratio, resize it with TF1 `ResizeBilinear`
(align_corners=False, half_pixel_centers=False), run the network, then scale each output
back with `ResizeBilinear(align_corners=True)` to the padded input size, sigmoid, and
`crop_and_resize` to the frame. Everything up to network-input size (the input resize, the
network, the person scores and part argmax) is one TensorFlow (or TFLite) call; `frame_labels`
takes it to the frame.
"""

import time
from functools import lru_cache
from typing import Dict, NamedTuple, Optional

import numpy as np

from bodypix_ros.errors import FrameError, ModelError
from bodypix_ros.frame_labels import frame_labels, sigmoid
from bodypix_ros.geometry import InputGeometry, input_geometry
from bodypix_ros.model.graph import GraphModel, load_graph_model
from bodypix_ros.model.names import DEFAULT_MODEL
from bodypix_ros.model.store import resolve_model
from bodypix_ros.network_input import network_input, network_input_graph
from bodypix_ros.parts import PART_IDS
from bodypix_ros.result import NetworkOutputs, SegmentationResult
from bodypix_ros.settings import SegmentationSettings

OUTPUT_NODES = {
    "segments": "float_segments",
    "part_heatmaps": "float_part_heatmaps",
    "heatmaps": "float_heatmaps",
    "short_offsets": "float_short_offsets",
    "long_offsets": "float_long_offsets",
    "displacement_fwd": "displacement_fwd",
    "displacement_bwd": "displacement_bwd",
}
"""NetworkOutputs field -> substring of the graph output node that holds it."""


BACKENDS = ("tensorflow", "tflite")
"""What runs the network: TensorFlow, or TensorFlow Lite from the same wheel."""




def as_rgb_frame(frame: np.ndarray) -> np.ndarray:
    """Validate a frame -> (H, W, 3) uint8 RGB.

    Accepts uint8 (H, W, 3) RGB; (H, W) or (H, W, 1) grayscale is replicated to RGB;
    (H, W, 4) RGBA drops alpha. Anything else raises FrameError.
    """
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"frame must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"frame dtype must be uint8, not {frame.dtype}")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4):
        raise FrameError(
            f"frame shape must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), not {frame.shape}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise FrameError(f"frame is empty: shape {frame.shape}")
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    return np.ascontiguousarray(frame[:, :, :3])


class BodyPixEngine:
    """A loaded BodyPix network and the TFJS pre- and post-processing around it.

    graph_model: the network as a TensorFlow GraphModel; network: the network alone as the
    backend runs it, `network(batch) -> {output node name: [1, h, w, C]}`; model_name: the
    model's short name (or its path or URL); threads: the threads asked of the backend (0 = its
    default, one per core).
    """

    def __init__(self, graph: GraphModel, architecture: str, output_stride: int, model_name: str,
                 backend: str = "tensorflow", threads: int = 0):
        import tensorflow as tf

        self.graph_model = graph
        self.architecture = architecture
        self.output_stride = output_stride
        self.model_name = model_name
        self.backend = backend
        self.threads = threads
        self._output_keys = _match_outputs(graph.output_names)
        if backend == "tflite":
            from bodypix_ros.model.tflite import TFLiteFunction

            self.network = TFLiteFunction(graph, ["batch"], threads)
            self._lite_infer = TFLiteFunction(
                self._network_graph, ["batch", "with_parts"], threads)
        else:
            self.network = graph
            self._traced_infer = tf.function(self._infer_graph, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.bool),
                tf.TensorSpec([4], tf.int32), tf.TensorSpec([2], tf.int32)])
            # traced once, here; calling the concrete function skips tf.function's argument
            # binding (about 0.2 ms a frame)
            self._run_infer = self._traced_infer.get_concrete_function()

    def _infer_graph(self, frame, with_parts, padding, input_size):
        """TensorFlow ops from the frame to network-input size: ([H, W, 3] uint8 frame, with_parts
        bool, padding [4], input_size [2]) -> the outputs of `_network_graph`.
        """
        return self._network_graph(
            network_input_graph(frame, padding, input_size, self.architecture), with_parts
        )

    def _network_graph(self, batch, with_parts):
        """TensorFlow ops: (batch [1, H_in, W_in, 3] float32, with_parts bool) -> {NetworkOutputs
        field: [1, h, w, C], 'person_scores': [H_in, W_in] float32, 'part_argmax': [H_in, W_in]
        uint8 ([1, 1] without parts)}.
        """
        import tensorflow as tf

        raw = self.graph_model(batch)
        outputs = {field: raw[node] for field, node in self._output_keys.items()}
        outputs.update(
            _input_scores_graph(
                outputs["segments"], outputs["part_heatmaps"], tf.shape(batch)[1:3], with_parts
            )
        )
        return outputs

    def _infer(
        self, frame: np.ndarray, geometry: InputGeometry, with_parts: bool
    ) -> Dict[str, np.ndarray]:
        """The frame to network-input size, run by the backend -> outputs of `_network_graph` as
        numpy.

        TensorFlow: one call. TFLite: the input resize in TensorFlow (TFLite pads large frames
        slowly), then the converted network and scaling.
        """
        if self.backend == "tflite":
            return self._lite_infer(
                network_input(frame, geometry, self.architecture), np.bool_(with_parts)
            )
        outputs = self._run_infer(frame, *_geometry_tensors(geometry, with_parts))
        return {name: tensor.numpy() for name, tensor in outputs.items()}

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, base_url: Optional[str] = None,
             cache_dir: Optional[str] = None, backend: str = "tensorflow",
             threads: int = 0) -> "BodyPixEngine":
        """Resolve `model` (short name, model.json path or URL), download if needed, and load it.

        backend: 'tensorflow', or 'tflite' to run the network with TensorFlow Lite (XNNPACK);
        threads: how many threads run it: TensorFlow's op pools (see `use_tensorflow_threads`)
        and the TFLite interpreter's; 0 leaves TensorFlow as it is (one per core by default).
        """
        if backend not in BACKENDS:
            raise ModelError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
        resolved = resolve_model(model, base_url=base_url, cache_dir=cache_dir)
        if threads:
            use_tensorflow_threads(threads)
        graph = load_graph_model(resolved.model_json)
        return cls(graph, resolved.architecture, resolved.output_stride, resolved.name, backend,
                   threads)

    def geometry(self, frame_size, settings: SegmentationSettings) -> InputGeometry:
        """Network input size and padding for a frame of `frame_size` (H, W)."""
        return input_geometry(frame_size, settings.resolution_fraction, self.output_stride)

    def warm_up(self, frame_size=(240, 320)) -> None:
        """Run every TensorFlow function once on a black frame (the first run optimizes the graph;
        TFLite: converts for this size), so the first real frame does not pay for it (about 0.5 s).
        """
        self.segment(np.zeros(tuple(frame_size) + (3,), np.uint8), instances=True)

    def segment(
        self,
        frame: np.ndarray,
        settings: SegmentationSettings = SegmentationSettings(),
        *,
        part_labels: bool = True,
        instances: Optional[bool] = None,
    ) -> SegmentationResult:
        """Segment one (H, W, 3) uint8 RGB frame (see `as_rgb_frame` for other layouts).

        part_labels: compute the part label image; instances: run the multi-person decode
        (default: settings.multi_person.enabled). Returns images at the frame's resolution and
        timings_ms per stage: network (with the input resize and the scaling to input size),
        mask or part_labels, persons. The same as `decode(run_network(...))`.
        """
        run = self.run_network(frame, settings, part_labels=part_labels)
        return self.decode(run, settings, part_labels=part_labels, instances=instances)

    def run_network(
        self,
        frame: np.ndarray,
        settings: SegmentationSettings = SegmentationSettings(),
        *,
        part_labels: bool = True,
    ) -> "NetworkRun":
        """The network stage of `segment`: the backend's one call, up to network-input size.

        Runs the part branch when part_labels or settings.part_filter needs it.
        """
        started = time.perf_counter()
        frame = as_rgb_frame(frame)
        geometry = self.geometry(frame.shape[:2], settings)
        with_parts = part_labels or bool(settings.part_filter)
        outputs = self._infer(frame, geometry, with_parts)
        person_scores, part_argmax = outputs.pop("person_scores"), outputs.pop("part_argmax")
        return NetworkRun(geometry, outputs, person_scores, part_argmax if with_parts else None,
                          (time.perf_counter() - started) * 1000.0)

    def decode(
        self,
        run: "NetworkRun",
        settings: SegmentationSettings = SegmentationSettings(),
        *,
        part_labels: bool = True,
        instances: Optional[bool] = None,
    ) -> SegmentationResult:
        """The rest of `segment`: `run` (from `run_network` with the same settings and
        part_labels) to frame-resolution images; no TensorFlow, so it can overlap the next
        frame's network on another thread.
        """
        timings = {"network": run.network_ms}
        clock = time.perf_counter()

        def lap(stage):
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = (now - clock) * 1000.0
            clock = now

        if instances is None:
            instances = settings.multi_person.enabled
        threshold = settings.segmentation_threshold
        if run.part_argmax is not None:
            labels = frame_labels(run.geometry, run.person_scores, threshold,
                                  run.outputs["part_heatmaps"][0], run.part_argmax)
            if settings.part_filter:
                labels = keep_parts(labels, settings.part_filter)
            person_mask = mask_of(labels)
            lap("part_labels")
        else:
            person_mask = mask_of(frame_labels(run.geometry, run.person_scores, threshold))
            labels = None
            lap("mask")
        result = SegmentationResult(
            person_mask=person_mask,
            part_labels=labels if part_labels else None,
            timings_ms=timings,
        )
        if instances:
            from bodypix_ros.multi_person import decode_persons

            result.instances, result.persons = decode_persons(
                to_network_outputs(run.outputs), run.geometry, person_mask > 0,
                settings.multi_person)
            lap("persons")
        return result


class NetworkRun(NamedTuple):
    """One frame through the network (`BodyPixEngine.run_network`), not yet decoded.

    geometry: the frame's input geometry; outputs: NetworkOutputs field -> [1, h, w, C]
    float32 network logits; person_scores: (H_in, W_in) float32 sigmoid scores at network-input
    size; part_argmax: (H_in, W_in) uint8 argmax part there, None without the part branch;
    network_ms: wall time of the stage.
    """

    geometry: InputGeometry
    outputs: Dict[str, np.ndarray]
    person_scores: np.ndarray
    part_argmax: Optional[np.ndarray]
    network_ms: float


def use_tensorflow_threads(threads: int) -> None:
    """Run TensorFlow's ops on `threads` threads (intra- and inter-op pools); 0 = one per core.

    Process-wide, and fixed by TensorFlow's first op: asking for another count after it raises
    RuntimeError.
    """
    import tensorflow as tf

    config = tf.config.threading
    current = (config.get_intra_op_parallelism_threads(),
               config.get_inter_op_parallelism_threads())
    if current == (threads, threads):
        return
    try:
        config.set_intra_op_parallelism_threads(threads)
        config.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        raise RuntimeError(
            f"cannot run TensorFlow on {threads} threads: this process already started it with "
            f"intra-/inter-op threads {current} (0 = one per core); load the first engine with "
            f"the count you want") from None


def mask_of(labels: np.ndarray) -> np.ndarray:
    """(H, W) uint8 labels -> (H, W) uint8 person mask: 255 where the label is not 0, else 0."""
    import cv2

    return cv2.threshold(labels, 0, 255, cv2.THRESH_BINARY)[1]


def to_network_outputs(outputs: Dict[str, np.ndarray]) -> NetworkOutputs:
    """{field: [1, h, w, C] array} -> NetworkOutputs of (h, w, C) float32; heatmaps get the
    sigmoid.
    """
    arrays = {field: values[0] for field, values in outputs.items()}
    arrays["heatmaps"] = sigmoid(arrays["heatmaps"])
    return NetworkOutputs(**arrays)


@lru_cache(maxsize=16)
def _geometry_tensors(geometry: InputGeometry, with_parts: bool):
    """(with_parts, padding, input_size) as the constant tensors `_infer_graph` takes; cached."""
    import tensorflow as tf

    return (tf.constant(with_parts), tf.constant(geometry.padding, tf.int32),
            tf.constant(geometry.input_size, tf.int32))


def _match_outputs(names) -> Dict[str, str]:
    matched = {}
    for field, needle in OUTPUT_NODES.items():
        candidates = [name for name in names if needle in name]
        if len(candidates) != 1:
            raise ModelError(f"model outputs {names} do not include exactly one {needle!r}; "
                             f"is this a BodyPix 2.0 model?")
        matched[field] = candidates[0]
    return matched


def _input_scores_graph(segments, part_heatmaps, input_size, with_parts):
    """TFJS `scaleAndCropToInputTensorShape` up to the crop, on [1, h, w, C] network logits ->
    {'person_scores': [H_in, W_in] float32 sigmoid, 'part_argmax': [H_in, W_in] uint8, or [1, 1]
    unless the bool tensor with_parts (only the branch taken runs)}.
    """
    import tensorflow as tf

    def to_input_size(logits):
        return tf.raw_ops.ResizeBilinear(images=logits, size=input_size, align_corners=True,
                                         half_pixel_centers=False)[0]

    def part_argmax():
        return tf.cast(
            tf.argmax(to_input_size(part_heatmaps), axis=-1, output_type=tf.int32), tf.uint8
        )

    return {"person_scores": tf.sigmoid(to_input_size(segments)[:, :, 0]),
            "part_argmax": tf.cond(with_parts, part_argmax, lambda: tf.zeros([1, 1], tf.uint8))}


def keep_parts(part_labels: np.ndarray, part_names) -> np.ndarray:
    """(H, W) uint8 part labels with every part not in `part_names` set to 0 (background)."""
    keep = np.zeros(256, dtype=np.uint8)
    labels = [PART_IDS[name] + 1 for name in part_names]
    keep[labels] = labels
    return keep.take(part_labels)
