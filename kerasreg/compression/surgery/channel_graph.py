"""Channel dependency graph of a functional Keras model.

The analysis half of `shrink`. It flattens a functional model (nested
functional and Sequential submodels are inlined) into a list of `Call`s, then
groups channels that must be removed together: every channel of every
tensor is an element, and elements are joined into one *channel class*
whenever a layer ties them (a BatchNormalization or activation ties its
input channel c to its output channel c, an `Add` ties channel c of all its
inputs and its output, a `Concatenate` ties input channels to offset output
channels, a `Flatten` ties channel c to every flattened position holding c).
Layers that create a new channel space (Conv2D, SeparableConv2D, Dense) end
a class. Layers the rules below do not know end a class *safely*: their
channels are fixed.

A class can be removed when all BatchNormalization layers in it have
|γ| ≤ threshold (their output is then the constant β), every layer that
reads it as input (a *consumer*: Conv2D, SeparableConv2D, Dense) receives an
input-independent value, and nothing fixes it (a model input or output, an
unsupported layer).

The design follows Torch-Pruning's split into a graph, channel groups and a
table of per-layer rules (Fang et al., DepGraph, CVPR 2023,
https://arxiv.org/abs/2301.12900).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from kerasreg._keras_compat import functional_graph, nodes_by_depth

__all__ = ["Call", "ChannelGraph", "UnsupportedLayerError", "layer_kind"]


class UnsupportedLayerError(ValueError):
    """A layer ties channels in a way `shrink` cannot rewrite safely."""


@dataclasses.dataclass(eq=False)
class Call:
    """One call of a layer in the flattened graph.

    Attributes:
        layer: the original layer.
        node: the Keras node of this call (its arguments are replayed).
        inputs: ids of the input tensors, in argument order.
        outputs: ids of the output tensors.
        kind: the rule applied, see `layer_kind`.
    """

    layer: keras.layers.Layer
    node: object
    inputs: list
    outputs: list
    kind: str


_PASS_THROUGH = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.UpSampling2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Rescaling,
    keras.layers.Identity,
)
_MERGE = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Multiply,
)
# Activations that mix channels cannot pass a class through.
_CHANNEL_MIXING_ACTIVATIONS = ("softmax", "log_softmax")
# Raw `keras.ops` calls in a functional graph (e.g. `x + 3.0` inside
# MobileNetV3's hard-swish) are operations, not layers.
_ELEMENTWISE_OPS = (
    "Add",
    "Subtract",
    "Multiply",
    "Divide",
    "TrueDivide",
    "Maximum",
    "Minimum",
)
_UNARY_OPS = (
    "Relu",
    "Relu6",
    "Sigmoid",
    "HardSigmoid",
    "HardSilu",
    "Silu",
    "Swish",
    "Tanh",
    "Abs",
    "Negative",
    "Exp",
    "Gelu",
    "Elu",
    "Selu",
    "Softplus",
)


def _operation_kind(op, node, call_inputs, call_outputs):
    name = type(op).__name__
    out_width = call_outputs[0].shape[-1]
    if name in _UNARY_OPS and len(call_inputs) == 1:
        return "pass", None
    if name in _ELEMENTWISE_OPS:
        others = [
            a
            for a in list(node.arguments.args) + list(node.arguments.kwargs.values())
            if not isinstance(a, keras.KerasTensor)
        ]
        scalars = all(isinstance(a, (int, float)) for a in others)
        widths = {t.shape[-1] for t in call_inputs}
        if len(call_inputs) == 1 and scalars and widths == {out_width}:
            return "pass", None
        if len(call_inputs) == 2 and not others and widths == {out_width}:
            return "merge", None
    return "unsupported", f"no channel rule for the operation {name}"


def layer_kind(layer, call_inputs, call_outputs, node=None):
    """The rule for one layer call, or the reason it is unsupported.

    Returns:
        `(kind, reason)`. `kind` is one of `"producer"` (Conv2D, Dense,
        SeparableConv2D: consumes its input channels, creates new output
        channels), `"depthwise"`, `"bn"`, `"pass"` (channel c in, channel c
        out), `"merge"` (element-wise over several inputs), `"concat"`,
        `"flatten"` or `"unsupported"`, in which case `reason` says why.
    """
    in_shapes = [t.shape for t in call_inputs]
    out_shapes = [t.shape for t in call_outputs]
    if not isinstance(layer, keras.layers.Layer):
        return _operation_kind(layer, node, call_inputs, call_outputs)
    if isinstance(layer, keras.layers.BatchNormalization):
        if layer.axis not in (-1, len(in_shapes[0]) - 1):
            return "unsupported", f"normalizes axis {layer.axis}, not channels"
        return "bn", None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        if layer.data_format != "channels_last":
            return "unsupported", "channels_first data format"
        return "depthwise", None
    if isinstance(layer, (keras.layers.SeparableConv2D, keras.layers.Conv2D)):
        if layer.data_format != "channels_last":
            return "unsupported", "channels_first data format"
        if getattr(layer, "groups", 1) != 1:
            return "unsupported", f"grouped convolution (groups={layer.groups})"
        if type(layer) not in (keras.layers.Conv2D, keras.layers.SeparableConv2D):
            return "unsupported", f"{type(layer).__name__} is not a plain Conv2D"
        return "producer", None
    if isinstance(layer, keras.layers.Dense):
        return "producer", None
    if isinstance(layer, _PASS_THROUGH):
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            return "unsupported", "channels_first data format"
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", str(activation))
        if name in _CHANNEL_MIXING_ACTIVATIONS:
            return "unsupported", f"activation {name!r} mixes channels"
        if in_shapes[0][-1] != out_shapes[0][-1]:
            return "unsupported", "changes the channel count"
        return "pass", None
    if isinstance(layer, _MERGE):
        widths = {s[-1] for s in in_shapes}
        if len(widths) != 1:
            return "unsupported", f"broadcasts over channels (widths {widths})"
        return "merge", None
    if isinstance(layer, keras.layers.Concatenate):
        if layer.axis in (-1, len(out_shapes[0]) - 1):
            return "concat", None
        return "merge", None
    if isinstance(layer, keras.layers.Flatten):
        return ("flatten" if len(in_shapes[0]) > 2 else "pass"), None
    if isinstance(layer, keras.layers.Reshape):
        same = in_shapes[0][-1] == out_shapes[0][-1]
        if same and all(d == 1 for d in out_shapes[0][1:-1]):
            return "pass", None  # e.g. (C,) -> (1, 1, C) in squeeze-excite
        return "unsupported", "reshape that moves channels"
    return "unsupported", f"no channel rule for {type(layer).__name__}"


class ChannelGraph:
    """Calls, tensors and channel classes of a functional model.

    Args:
        model: a functional or Sequential `keras.Model`; nested functional
            and Sequential models are inlined.

    Attributes:
        calls: the `Call`s in topological order.
        inputs, outputs: ids of the model's input and output tensors.
        shapes: `{tensor id: shape}`.
        labels: `{tensor id: int array}`, the channel class of each channel.
        consumers: `{tensor id: [Call, ...]}` reading that tensor.

    Example:

    >>> from kerasreg import models
    >>> graph = ChannelGraph(models.resnet((8, 8, 1), 10, widths=(4, 8)))
    >>> len(graph.calls) > 10
    True
    """

    def __init__(self, model):
        if functional_graph(model) is None:
            raise ValueError(
                f"Model {model.name!r} is not a built functional or "
                "Sequential model; shrink needs its graph. Build it (call it "
                "on an input) or rewrite it with the functional API."
            )
        self.model = model
        self.calls = []
        self.shapes = {}
        self._alias = {}
        self.inputs = [self._tid(x) for x in functional_graph(model).inputs]
        for x in functional_graph(model).inputs:
            self.shapes[id(x)] = x.shape
        self._inline(model)
        self.outputs = [self._tid(x) for x in functional_graph(model).outputs]
        self.consumers = {}
        for call in self.calls:
            for tid in call.inputs:
                self.consumers.setdefault(tid, []).append(call)
        self._group()

    # -- tracing ----------------------------------------------------------

    def _tid(self, tensor):
        return self._alias.get(id(tensor), id(tensor))

    def _inline(self, model):
        graph = functional_graph(model)
        by_depth = nodes_by_depth(graph)
        for depth in sorted(by_depth, reverse=True):
            for node in by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                op = node.operation
                if isinstance(op, keras.Model) and functional_graph(op) is not None:
                    self._inline_nested(op, node)
                    continue
                inputs = [self._tid(x) for x in node.arguments.keras_tensors]
                outputs = [id(x) for x in node.outputs]
                for x in node.outputs:
                    self.shapes[id(x)] = x.shape
                kind, reason = layer_kind(
                    op, node.arguments.keras_tensors, node.outputs, node
                )
                call = Call(op, node, inputs, outputs, kind)
                call.reason = reason
                self.calls.append(call)

    def _inline_nested(self, model, node):
        inner = functional_graph(model)
        outer_args = node.arguments.keras_tensors
        if len(outer_args) != len(inner.inputs):
            raise UnsupportedLayerError(
                f"Nested model {model.name!r} is called with "
                f"{len(outer_args)} tensors but has {len(inner.inputs)} inputs."
            )
        for inner_x, outer_x in zip(inner.inputs, outer_args):
            self._alias[id(inner_x)] = self._tid(outer_x)
        self._inline(model)
        for outer_y, inner_y in zip(node.outputs, inner.outputs):
            self._alias[id(outer_y)] = self._tid(inner_y)

    # -- channel classes ----------------------------------------------------

    def _group(self):
        tids = list(self.shapes)
        self._base = {}
        offset = 0
        for tid in tids:
            self._base[tid] = offset
            offset += _width(self.shapes[tid])
        pairs = []
        first_call = {}
        for call in self.calls:
            pairs.extend(_ties(self, call))
            # A shared layer has one set of weights: its channels are tied
            # across all of its calls.
            first = first_call.setdefault(id(call.layer), call)
            if first is not call:
                for x, y in zip(
                    first.inputs + first.outputs, call.inputs + call.outputs
                ):
                    pairs.append((self.elements(x), self.elements(y)))
        roots = _components(offset, pairs)
        self.labels = {
            tid: roots[self._base[tid] : self._base[tid] + _width(self.shapes[tid])]
            for tid in tids
        }

    def elements(self, tid):
        """Global element ids of the channels of tensor `tid`."""
        return self._base[tid] + np.arange(_width(self.shapes[tid]))

    def conv_bn_pairs(self):
        """`(conv, bn)` layer pairs where a BatchNormalization reads a Conv directly.

        Only convolutions whose output channels are their filters count
        (Conv1D/2D/3D, not depthwise), and only BatchNormalization layers
        with both a scale and a center.

        Example:

        >>> from kerasreg import models
        >>> graph = ChannelGraph(models.cnn((8, 8, 1), 10, filters=(4, 8)))
        >>> [(conv.name, bn.name) for conv, bn in graph.conv_bn_pairs()][:1]
        [('block1_conv', 'block1_bn')]
        """
        convs = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
        made_by = {tid: call for call in self.calls for tid in call.outputs}
        pairs = []
        for call in self.calls:
            bn = call.layer
            if call.kind != "bn" or not (bn.center and bn.scale):
                continue
            source = made_by.get(call.inputs[0])
            if source is not None and isinstance(source.layer, convs):
                if source.kind == "producer" and (source.layer, bn) not in pairs:
                    pairs.append((source.layer, bn))
        return pairs


def _components(n, pairs):
    """Connected components of n elements joined by `pairs`; each labelled by its smallest element."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a = np.concatenate(
        [np.asarray(x, np.int64) for x, _ in pairs] or [np.zeros(0, np.int64)]
    )
    b = np.concatenate(
        [np.asarray(y, np.int64) for _, y in pairs] or [np.zeros(0, np.int64)]
    )
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1 if n else 0, n, np.int64)
    np.minimum.at(smallest, component, np.arange(n))
    return smallest[component]


def _width(shape):
    return int(shape[-1]) if len(shape) > 1 else 1


def _ties(graph, call):
    """Pairs of element-id arrays that `call` joins into one class."""
    if call.kind in ("bn", "pass"):
        yield graph.elements(call.inputs[0]), graph.elements(call.outputs[0])
    elif call.kind == "depthwise":
        multiplier = call.layer.depth_multiplier
        src = graph.elements(call.inputs[0])
        dst = graph.elements(call.outputs[0])
        yield np.repeat(src, multiplier), dst
    elif call.kind == "merge":
        out = graph.elements(call.outputs[0])
        for tid in call.inputs:
            yield graph.elements(tid), out
    elif call.kind == "concat":
        out = graph.elements(call.outputs[0])
        offset = 0
        for tid in call.inputs:
            src = graph.elements(tid)
            yield src, out[offset : offset + len(src)]
            offset += len(src)
    elif call.kind == "flatten":
        src = graph.elements(call.inputs[0])
        dst = graph.elements(call.outputs[0])
        # Flatten of (H, W, C) puts channel c at positions p * C + c.
        yield np.tile(src, len(dst) // len(src)), dst
