"""Which role each layer of a model takes in its quantization-aware copy.

See `rebuild.py` for the roles. `layer_roles(graph)` reads them off a flattened
`ChannelGraph`: heads, and what folds and fuses into them, come from each
tensor's readers, as the TFLite converter decides the same.
"""

from __future__ import annotations

import keras

from kerasreg._keras_compat import inbound_nodes
from kerasreg.compression.quantization.layers import (
    QuantizedConv2D,
    QuantizedDense,
    QuantizedDepthwiseConv2D,
    keeps_range,
)

__all__ = ["layer_roles", "head_class"]

_HEADS = {
    keras.layers.DepthwiseConv2D: QuantizedDepthwiseConv2D,
    keras.layers.Conv2D: QuantizedConv2D,
    keras.layers.Dense: QuantizedDense,
}
_QUANTIZED = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Softmax,
    keras.layers.BatchNormalization,
    keras.layers.Rescaling,
    keras.layers.Normalization,
)
_FUSABLE = ("linear", "relu", "relu6")
_ELEMENTWISE_OPS = ("Add", "Subtract", "Multiply", "Divide", "TrueDivide")
# TFLite ops with a fused activation, besides the convolutions and Dense.
_TAKES_ACTIVATION = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Concatenate,
    keras.layers.AveragePooling2D,
)


def head_class(layer):
    for cls, quantized in _HEADS.items():
        if type(layer) is cls:
            return quantized
    return None


def _activation_name(layer):
    """'linear', 'relu', 'relu6' for a fusable activation, else `None`."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["negative_slope"] or config["threshold"]:
            return None
        return {None: "relu", 6.0: "relu6"}.get(config["max_value"])
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in _FUSABLE else None


def _single_reader(graph, call):
    readers = graph.consumers.get(call.outputs[0], [])
    if len(readers) != 1 or call.outputs[0] in graph.outputs:
        return None
    return readers[0]


def layer_roles(graph):
    """`{id(call): (role, extra)}` for every call; see the module docstring."""
    roles = {}
    for call in graph.calls:
        if id(call) in roles:
            continue
        layer = call.layer
        if head_class(layer) is not None:
            shared = len(inbound_nodes(layer)) > 1
            roles[id(call)] = ("head", _chain(graph, call, roles, fuse=not shared))
        elif keeps_range(layer):
            roles[id(call)] = ("same", None)
        elif isinstance(layer, _QUANTIZED) or _is_elementwise_op(layer):
            roles[id(call)] = ("quantized", None)
        else:
            roles[id(call)] = ("float", None)
    for call in graph.calls:
        if roles[id(call)][0] == "quantized" and _fuses_activation(graph, call):
            # The converter fuses the ReLU into this op, whose output then
            # takes the ReLU's range: one quantizer, after the ReLU.
            roles[id(call)] = ("same", None)
    return roles


def _is_elementwise_op(operation):
    """A `keras.ops` arithmetic op in the graph (`x + 3`, `x * y`, `x / 6`).

    Functional models record such expressions as operations, not layers
    (MobileNetV3's hard-swish is one); TFLite runs them as int8 ADD, SUB
    and MUL.
    """
    return (
        not isinstance(operation, keras.layers.Layer)
        and type(operation).__name__ in _ELEMENTWISE_OPS
    )


def _fuses_activation(graph, call):
    if not isinstance(call.layer, _TAKES_ACTIVATION):
        return False
    reader = _single_reader(graph, call)
    return (
        reader is not None
        and isinstance(reader.layer, (keras.layers.ReLU, keras.layers.Activation))
        and _activation_name(reader.layer) in ("relu", "relu6")
    )


def _chain(graph, head, roles, fuse=True):
    """The BN folded into `head`, the activation fused after it.

    `after` is the head's own activation when the converter cannot fuse it
    (sigmoid, softmax, ...): it then runs as its own int8 op.
    """
    own = _activation_name(head.layer)
    if own is None:
        after = keras.activations.serialize(head.layer.activation)
        return {
            "bn": None,
            "activation": "linear",
            "after": after,
            "last": head.layer.name,
        }
    bn, activation, last = None, own, head
    reader = _single_reader(graph, head) if fuse else None
    if (
        activation == "linear"
        and isinstance(getattr(reader, "layer", None), keras.layers.BatchNormalization)
        and reader.layer.axis in (-1, len(graph.shapes[reader.outputs[0]]) - 1)
    ):
        bn, last = reader.layer, reader
        roles[id(reader)] = ("fused", None)
        reader = _single_reader(graph, reader)
    if activation == "linear" and reader is not None:
        fused = _activation_name(reader.layer)
        if fused in ("relu", "relu6") and isinstance(
            reader.layer, (keras.layers.ReLU, keras.layers.Activation)
        ):
            activation, last = fused, reader
            roles[id(reader)] = ("fused", None)
    return {"bn": bn, "activation": activation, "after": None, "last": last.layer.name}
