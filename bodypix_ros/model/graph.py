"""A lean loader for TFJS graph models (model.json + weight shards) into TensorFlow.

Needs only `tensorflow` and numpy: the JSON topology is a GraphDef in proto-JSON form,
the shards are the Const nodes' values, 1- and 2-byte quantized weights are
dequantized as TFJS does (`value = q * scale + min`, computed in float64, stored
as float32). Dilated depthwise convolutions are rewritten into their atrous form, which every
CPU kernel runs (TensorFlow's stock kernel, used without oneDNN, rejects their dilations).
"""

import functools
import json
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from bodypix_ros.errors import ModelError
from bodypix_ros.model.names import BASE_URL_SETTING

SUPPORTED_OPS = frozenset({
    "Placeholder", "Const", "Identity", "Conv2D", "DepthwiseConv2dNative", "BiasAdd", "Add",
    "AddV2", "Sub", "Mul", "RealDiv", "Relu", "Relu6", "Minimum", "Maximum", "MaxPool",
    "AvgPool", "Pad", "PadV2", "MirrorPad", "Sigmoid", "Mean", "Squeeze", "Reshape",
    "ConcatV2", "ResizeBilinear", "FusedBatchNorm", "FusedBatchNormV3", "Rsqrt", "Shape",
    "StridedSlice", "Pack", "Cast", "ExpandDims", "Transpose", "Tanh", "Softmax",
})

DATA_TYPES = frozenset({
    "DT_FLOAT", "DT_HALF", "DT_DOUBLE", "DT_INT8", "DT_INT16", "DT_INT32", "DT_INT64",
    "DT_UINT8", "DT_UINT16", "DT_BOOL", "DT_STRING",
})
"""TensorFlow DataType names a graph this loader runs may use (a subset of TensorFlow's)."""
ATTR_KINDS = frozenset({"s", "i", "f", "b", "type", "shape", "tensor", "list", "func",
                        "placeholder"})
"""The fields of a TensorFlow AttrValue; an attribute holds one of them."""
_NOT_A_MODEL = "pass a model-stride<N>.json of the BodyPix 2.0 tree, or download it again"

_NUMPY_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8,
                 "uint16": np.uint16, "float16": np.float16, "bool": np.bool_}


def _stored_dtype(entry: dict) -> str:
    """The dtype a `weightsManifest` weight entry is stored in (its quantization dtype, if any)."""
    stored = entry.get("quantization", {}).get("dtype", entry["dtype"])
    for dtype in (stored, entry["dtype"]):
        if dtype not in _NUMPY_DTYPES:
            raise ModelError(f"weight {entry['name']!r} has unsupported dtype {dtype!r}")
    return stored


def weight_byte_size(entry: dict) -> int:
    """Bytes one `weightsManifest` weight entry occupies in its shard."""
    itemsize = np.dtype(_NUMPY_DTYPES[_stored_dtype(entry)]).itemsize
    return int(np.prod(entry["shape"], dtype=np.int64)) * itemsize


def group_bytes(group: dict) -> int:
    """Bytes a `weightsManifest` group stores in its shards, all together."""
    return sum(weight_byte_size(entry) for entry in group["weights"])


def decode_weights(manifest: Sequence[dict], folder: Path) -> Dict[str, np.ndarray]:
    """Read every shard group of `manifest` from `folder` -> {weight name: array of its dtype
    and shape}.
    """
    weights = {}
    for group in manifest:
        buffer = b"".join(_read_shard(folder / path) for path in group["paths"])
        expected = group_bytes(group)
        if len(buffer) != expected:
            raise ModelError(
                f"weight shards {', '.join(group['paths'])} in {folder} hold {len(buffer)} bytes "
                f"but the model.json lists {expected}: the download is truncated or corrupt; "
                f"delete that folder (or the model cache) and load the model again")
        offset = 0
        for entry in group["weights"]:
            size = weight_byte_size(entry)
            weights[entry["name"]] = _decode_weight(entry, buffer[offset:offset + size])
            offset += size
    return weights


def _read_shard(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelError(
            f"cannot read weight shard {path}: {error.strerror}; "
            f"download the model again or point {BASE_URL_SETTING} at a complete mirror"
        ) from None


def _decode_weight(entry: dict, raw: bytes) -> np.ndarray:
    quantization = entry.get("quantization")
    stored = _stored_dtype(entry)
    values = np.frombuffer(raw, dtype=np.dtype(_NUMPY_DTYPES[stored]).newbyteorder("<"))
    if quantization and stored in ("uint8", "uint16"):
        values = values * float(quantization["scale"]) + float(quantization["min"])
    return values.astype(_NUMPY_DTYPES[entry["dtype"]]).reshape(entry["shape"])


def read_model_json(model_json: Path) -> dict:
    """Parse and sanity-check a TFJS graph-model `model.json`."""
    try:
        spec = json.loads(Path(model_json).read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelError(f"cannot read model file {model_json}: {error.strerror}") from None
    except ValueError as error:
        raise ModelError(f"model file {model_json} is not valid JSON ({error}); "
                         f"delete it and download the model again") from None
    if not isinstance(spec, dict) or "modelTopology" not in spec or "weightsManifest" not in spec:
        raise ModelError(
            f"{model_json} is not a TFJS graph model (no modelTopology/weightsManifest); "
            f"pass a model-stride<N>.json of the BodyPix 2.0 tree"
        )
    try:
        check_topology(spec["modelTopology"])
    except ValueError as error:
        raise ModelError(f"{model_json} is not a valid TFJS graph model: {error}; "
                         f"{_NOT_A_MODEL}") from None
    nodes = spec["modelTopology"]["node"]
    unsupported = sorted({node["op"] for node in nodes} - SUPPORTED_OPS)
    if unsupported:
        raise ModelError(
            f"{model_json} uses ops this loader does not support: {', '.join(unsupported)}; "
            f"use a BodyPix 2.0 model (MobileNetV1 or ResNet50) of the official tree"
        )
    return spec


def check_topology(topology) -> None:
    """Check the structure of a model.json `modelTopology` (a GraphDef in proto-JSON form).

    Without TensorFlow: each node has a string name and op, string inputs, and attributes
    that each hold one AttrValue field with a value of its kind (data types from DATA_TYPES).
    Raises ValueError saying what is wrong.
    """
    if not isinstance(topology, dict):
        raise ValueError(f"modelTopology is a {type(topology).__name__}, not an object")
    nodes = topology.get("node")
    if not isinstance(nodes, list) or not nodes:
        raise ValueError("modelTopology has no list of nodes")
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise ValueError(f"node {index} is a {type(node).__name__}, not an object")
        for key in ("name", "op"):
            if not isinstance(node.get(key), str) or not node.get(key):
                raise ValueError(f"node {index} has no {key}")
        where = f"node {node['name']!r:.64}"
        inputs = node.get("input", [])
        if not isinstance(inputs, list) or not all(isinstance(name, str) for name in inputs):
            raise ValueError(f"{where} has inputs that are not a list of names")
        attributes = node.get("attr", {})
        if not isinstance(attributes, dict):
            raise ValueError(f"{where} has attributes that are not an object")
        for name, value in attributes.items():
            _check_attr_value(value, f"{where} attribute {name!r:.64}")


def _check_attr_value(value, where: str) -> None:
    if not isinstance(value, dict) or len(value) > 1 or not set(value) <= ATTR_KINDS:
        raise ValueError(
            f"{where} is not an attribute value (one of {', '.join(sorted(ATTR_KINDS))})")
    for kind, content in value.items():
        if kind == "list":
            if not isinstance(content, dict) or not all(
                    isinstance(items, list) and key in ATTR_KINDS
                    for key, items in content.items()):
                raise ValueError(f"{where} is not a list value")
            for key, items in content.items():
                for item in items:
                    _check_attr_field(key, item, where)
        else:
            _check_attr_field(kind, content, where)


def _check_attr_field(kind: str, content, where: str) -> None:
    """One AttrValue field: bytes (base64), int, float, bool, data type, tensor or shape."""
    if kind == "type":
        valid = content in DATA_TYPES
    elif kind == "tensor":
        valid = isinstance(content, dict) and content.get("dtype", "DT_FLOAT") in DATA_TYPES
    elif kind == "s":
        valid = isinstance(content, str) and _is_base64(content)
    elif kind == "i":
        valid = not isinstance(content, bool) and _is_integer(content)
    elif kind == "f":
        valid = isinstance(content, (int, float)) and not isinstance(content, bool) or content in (
            "NaN", "Infinity", "-Infinity")
    elif kind == "b":
        valid = isinstance(content, bool)
    else:  # shape, func, placeholder
        valid = isinstance(content, (dict, str))
    if not valid:
        raise ValueError(f"{where} holds an invalid {kind!r} value {content!r:.64}")


def _is_base64(text: str) -> bool:
    """Whether `text` is base64 as proto-JSON writes bytes (standard or URL-safe alphabet)."""
    unpadded = text.rstrip("=")
    return re.fullmatch(r"[A-Za-z0-9+/_-]*={0,2}", text) is not None and len(unpadded) % 4 != 1


def _is_integer(value) -> bool:
    if isinstance(value, int):
        return True
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def output_names(nodes: Sequence[dict]) -> List[str]:
    """Names of the nodes no other node consumes (the graph's outputs), in file order."""
    consumed = {name.split(":")[0].lstrip("^") for node in nodes for name in node.get("input", [])}
    return [node["name"] for node in nodes
            if node["name"] not in consumed and node["op"] not in ("Const", "Placeholder")]


def _normalize_conv_attrs(node) -> None:
    """Read `strides`/`dilations` as TFJS does: only entries 1 and 2 count (NHWC height, width).

    The BodyPix stride-8 graphs store dilations as [2, 2, 1, 1]; TFJS runs them as
    height 2, width 1, and so must we to give its results.
    """
    if node.op not in ("Conv2D", "DepthwiseConv2dNative"):
        return
    for name in ("strides", "dilations"):
        if name in node.attr and len(node.attr[name].list.i) == 4:
            values = list(node.attr[name].list.i)
            node.attr[name].list.i[:] = [1, values[1], values[2], 1]


def _dilation_rates(node) -> Tuple[int, int]:
    """(height, width) dilation of a normalized conv node, (1, 1) for other ops; a ModelError if
    the conv also strides (TFJS refuses that too).
    """
    if node.op not in ("Conv2D", "DepthwiseConv2dNative") or "dilations" not in node.attr:
        return 1, 1
    rates = tuple(node.attr["dilations"].list.i[1:3])
    strides = tuple(node.attr["strides"].list.i[1:3]) if "strides" in node.attr else ()
    if len(rates) != 2 or len(strides) != 2:
        raise ModelError(f"{node.op} {node.name!r} lacks 4-entry strides and dilations: "
                         f"this is not a BodyPix 2.0 model")
    if max(rates) > 1 and max(strides) > 1:
        raise ModelError(f"{node.op} {node.name!r} has dilations {rates} and strides "
                         f"{tuple(node.attr['strides'].list.i[1:3])}: a dilated convolution "
                         f"must have stride 1 (as in TFJS); this is not a BodyPix 2.0 model")
    return rates


@functools.lru_cache(maxsize=None)
def _atrous_template(rates: Tuple[int, int], kernel_size: Tuple[int, int], padding: str):
    """TensorFlow's atrous depthwise conv (SpaceToBatchND -> DepthwiseConv2dNative with dilation 1
    -> BatchToSpaceND, paddings from the input's runtime shape) on placeholders input
    [1, H, W, C] and filter [kh, kw, C, M] float32 -> (GraphDef, (input, filter) placeholder
    names, output node name).
    """
    import tensorflow as tf

    @tf.function(autograph=False, input_signature=[
        tf.TensorSpec([1, None, None, None], tf.float32),
        tf.TensorSpec(list(kernel_size) + [None, None], tf.float32)])
    def atrous(batch, kernel):
        def undilated(blocks, _, block_padding):
            return tf.raw_ops.DepthwiseConv2dNative(input=blocks, filter=kernel,
                                                    strides=[1, 1, 1, 1], padding=block_padding)
        return tf.nn.with_space_to_batch(batch, list(rates), padding, undilated,
                                         filter_shape=list(kernel_size))

    graph = atrous.get_concrete_function().graph
    return (graph.as_graph_def(), tuple(tensor.op.name for tensor in graph.inputs),
            graph.outputs[0].op.name)


def _atrous_nodes(conv, rates: Tuple[int, int], kernel) -> list:
    """The NodeDefs replacing the dilated depthwise `conv` (filter: the Const node `kernel`):
    the atrous template under `<conv>/atrous/`, fed the conv's inputs, its output an Identity
    named as the conv.
    """
    padding = conv.attr["padding"].s.decode()
    if padding not in ("SAME", "VALID"):
        raise ModelError(f"dilated {conv.op} {conv.name!r} has padding {padding}: "
                         f"only SAME and VALID are supported")
    kernel_size = tuple(dim.size for dim in kernel.attr["value"].tensor.tensor_shape.dim[:2])
    template, placeholders, output = _atrous_template(rates, kernel_size, padding)
    sources = dict(zip(placeholders, conv.input[:2]))
    prefix = conv.name + "/atrous/"
    nodes = []
    for node in template.node:
        if node.name in sources:
            continue
        spliced = type(node)()
        spliced.CopyFrom(node)
        spliced.name = conv.name if node.name == output else prefix + node.name
        spliced.input[:] = [sources.get(name, prefix + name) for name in node.input]
        nodes.append(spliced)
    return nodes


def _rewrite_dilated_depthwise(graph_def) -> None:
    """Replace in place each dilated DepthwiseConv2dNative of a normalized `graph_def` by its
    atrous form (see `_atrous_template`); consumers still read the conv's name.
    """
    by_name = {node.name: node for node in graph_def.node}
    nodes = []
    for node in graph_def.node:
        rates = _dilation_rates(node)
        if node.op != "DepthwiseConv2dNative" or rates == (1, 1):
            nodes.append(node)
            continue
        kernel = by_name.get(node.input[1].split(":")[0])
        if kernel is None or kernel.op != "Const":
            raise ModelError(f"the filter of dilated {node.op} {node.name!r} is not a constant")
        nodes.extend(_atrous_nodes(node, rates, kernel))
    del graph_def.node[:]
    graph_def.node.extend(nodes)


class GraphModel:
    """A TFJS graph model as a TensorFlow concrete function.

    Call with a float32 [1, H, W, 3] batch (already preprocessed for the architecture);
    returns {output node name: tf.Tensor [1, h, w, C]}.
    """

    def __init__(self, spec: dict, weights: Dict[str, np.ndarray]):
        import tensorflow as tf
        from google.protobuf import json_format

        topology = dict(spec["modelTopology"])
        topology.pop("library", None)
        graph_def = json_format.ParseDict(
            topology, tf.compat.v1.GraphDef(), ignore_unknown_fields=True
        )
        for node in graph_def.node:
            _normalize_conv_attrs(node)
            if node.op == "Const":
                if node.name not in weights:
                    raise ModelError(
                        f"the weight shards hold no value for constant {node.name!r}: the "
                        f"model.json and shards do not match; download the model again"
                    )
                node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
        _rewrite_dilated_depthwise(graph_def)
        placeholders = [node.name for node in graph_def.node if node.op == "Placeholder"]
        if len(placeholders) != 1:
            raise ModelError(
                f"the graph has {len(placeholders)} input placeholders {placeholders}, "
                f"not one as BodyPix; pass a BodyPix 2.0 model.json"
            )
        self.input_name = placeholders[0]
        self.output_names = output_names(spec["modelTopology"]["node"])

        fetches = [name + ":0" for name in self.output_names]

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
        def run(batch):
            outputs = tf.graph_util.import_graph_def(
                graph_def,
                input_map={self.input_name + ":0": batch},
                return_elements=fetches,
                name="bodypix",
            )
            return dict(zip(self.output_names, outputs))

        self._function = run

    def __call__(self, batch):
        return self._function(batch)


def load_graph_model(model_json: Path) -> GraphModel:
    """Load `model_json` and the shards beside it; raises ModelError with a fix for bad files."""
    model_json = Path(model_json)
    from google.protobuf import json_format

    spec = read_model_json(model_json)
    weights = decode_weights(spec["weightsManifest"], model_json.parent)
    try:
        return GraphModel(spec, weights)
    except json_format.ParseError as error:  # what check_topology cannot see
        raise ModelError(f"{model_json} is not a valid TFJS graph model: {error}; "
                         f"{_NOT_A_MODEL}") from None
