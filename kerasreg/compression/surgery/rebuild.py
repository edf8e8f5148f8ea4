"""`shrink`: physically remove dead channels from a functional model.

The rebuild half of the surgery. `plan_shrink` (in `shrink_plan.py`)
decides, from a `ChannelGraph`, which channel classes go; `shrink` rebuilds
a smaller model
from edited layer configs and copies sliced weights into it. The input model
is never modified.

A removed channel is one whose value, where layers read it, no longer
depends on the input: its BatchNormalization outputs the constant β (γ = 0),
possibly passed through activations, pooling or residual additions. Its
contribution to each consuming layer is kept exact:

- zero (for example ReLU(β) with β ≤ 0): the channel is simply dropped;
- the same at every output position (a Dense consumer, a 1x1 or "valid"
  convolution): it is folded into the consumer's bias, or into the moving
  mean of the BatchNormalization that follows a bias-free convolution;
- otherwise (a 3x3 "same" convolution sees zero padding at the borders): as
  in the slimming seed, all such constant channels are merged into one kept
  channel whose consumer weights absorb the others, which stays exact at the
  zero-padded borders. When even that is impossible the channels are kept.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from kerasreg import _keras_compat
from kerasreg._keras_compat import functional_graph
from kerasreg.compression.surgery.constants import replay
from kerasreg.compression.surgery.shrink_plan import plan_shrink

__all__ = ["shrink"]


def shrink(model, threshold=0.0, strict=True, round_to=None):
    """Return a physically smaller copy of `model` without its dead channels.

    A channel is removed when the |γ| of every BatchNormalization coupled to
    it is ≤ `threshold` and every layer reading it sees a constant. It
    leaves the producing layer's kernel and bias, the BatchNormalization's
    four vectors and the input kernel of every consuming layer. In inference
    mode the new model computes the same function as the old one (exactly
    for `threshold=0`; for `threshold > 0` the small γ are treated as 0).
    Nested functional and Sequential submodels are inlined into one flat
    functional model.

    Args:
        model: a built functional or Sequential `keras.Model`. Not modified.
        threshold: |γ| at or below which a BatchNormalization channel counts
            as dead. Defaults to `0.0` (exactly zero γ, as `NetworkSlimming`
            leaves them).
        strict: raise when an unsupported layer reads dead channels. With
            `False`, those channels stay and a warning lists the layers.
            Defaults to `True`.
        round_to: keep enough dead channels that every Conv2D, Dense and
            SeparableConv2D keeps a multiple of this many output channels
            (where it had at least that many). CPU and mobile kernels
            vectorise over 4, 8 or 16 channels, so odd widths cost nearly as
            much time as the next multiple. Outputs stay exact. Defaults to
            `None` (no rounding).

    Returns:
        A new `keras.Model`.

    Raises:
        ValueError: for a negative threshold or a model without a graph.
        UnsupportedLayerError: (a `ValueError`) naming the layer, with
            `strict=True`.

    Example:

    >>> from kerasreg import models
    >>> model = models.cnn((8, 8, 1), 10)
    >>> bn = model.get_layer("block1_bn")
    >>> _ = bn.gamma.assign(np.r_[np.zeros(16), np.ones(16)].astype("float32"))
    >>> small = shrink(model)
    >>> small.get_layer("block1_conv").filters
    16
    """
    if round_to is not None and (not isinstance(round_to, int) or round_to < 1):
        raise ValueError(
            f"Expected round_to to be an int >= 1. Received: round_to={round_to!r}"
        )
    plan = plan_shrink(model, threshold, strict, round_to)
    if plan.skipped:
        layers = ", ".join(f"{name} ({reason})" for name, reason in plan.skipped)
        warnings.warn(f"shrink left dead channels in place at: {layers}", stacklevel=2)
    return _rebuild(plan, threshold)


# --- rebuild -------------------------------------------------------------


def _rebuild(plan, threshold):
    graph = plan.graph
    edits = plan.settle().edits
    keep = plan.keep
    bias_into_bn = _bias_targets(graph, edits)
    new_layers, names = {}, set()

    def layer_for(call):
        if id(call.layer) not in new_layers:
            new_layers[id(call.layer)] = _new_layer(
                call, plan, edits, bias_into_bn, names
            )
        return new_layers[id(call.layer)]

    inputs = [
        keras.Input(
            shape=graph.shapes[tid][1:], name=x.name.split(":")[0], dtype=x.dtype
        )
        for tid, x in zip(graph.inputs, functional_graph(graph.model).inputs)
    ]
    values = replay(graph, inputs, layer_for)
    outputs = [values[tid] for tid in graph.outputs]
    struct = _keras_compat.outputs_struct(functional_graph(graph.model))
    model = keras.Model(
        inputs if len(inputs) > 1 else inputs[0],
        keras.tree.pack_sequence_as(struct, outputs),  # a dict stays a dict
        name=graph.model.name,
    )
    done = set()
    for call in graph.calls:
        if id(call.layer) in done:
            continue
        done.add(id(call.layer))
        weights = _sliced_weights(call, keep, edits, bias_into_bn)
        if not weights:
            continue
        new = new_layers[id(call.layer)]
        for variable, value in zip(new.weights, weights):
            variable.assign(value)
    return model


def _bias_targets(graph, edits):
    """Bias-free convolutions whose only reader is a BN: fold into its mean."""
    targets = {}
    for call in graph.calls:
        if id(call) not in edits or getattr(call.layer, "use_bias", True):
            continue
        readers = graph.consumers.get(call.outputs[0], [])
        if len(readers) == 1 and readers[0].kind == "bn":
            targets[id(readers[0].layer)] = edits[id(call)][0]
            edits[id(call)] = (None, edits[id(call)][1])
    return targets


def _new_layer(call, plan, edits, bias_into_bn, names):
    layer = call.layer
    if not isinstance(layer, keras.layers.Layer):
        return layer  # a stateless keras.ops operation: reuse it
    config = layer.get_config()
    name = config.get("name", layer.name)
    while name in names:
        name = f"{name}_"
    names.add(name)
    config["name"] = name
    n_out = int(plan.keep[call.outputs[0]].sum())
    if call.kind == "producer":
        config["units" if isinstance(layer, keras.layers.Dense) else "filters"] = n_out
        delta = edits.get(id(call), (None, {}))[0]
        if delta is not None and np.any(delta) and not layer.use_bias:
            config["use_bias"] = True
    elif isinstance(layer, keras.layers.Reshape):
        config["target_shape"] = (*config["target_shape"][:-1], n_out)
    return layer.__class__.from_config(config)


def _sliced_weights(call, keep, edits, bias_into_bn):
    layer = call.layer
    if not isinstance(layer, keras.layers.Layer):
        return []
    values = [ops.convert_to_numpy(w) for w in layer.weights]
    if call.kind in ("pass", "merge", "concat", "flatten", "unsupported") or not values:
        return values
    k_in = keep[call.inputs[0]]
    k_out = keep[call.outputs[0]]
    if call.kind == "bn":
        names = [w.path.split("/")[-1] for w in layer.weights]
        shift = bias_into_bn.get(id(layer))
        if shift is not None:
            values[names.index("moving_mean")] = (
                values[names.index("moving_mean")] - shift
            )
        return [v[k_out] for v in values]
    if call.kind == "depthwise":
        kernel = values[0][:, :, k_in, :]
        return [kernel] + [v[k_out] for v in values[1:]]
    delta, merges = edits.get(id(call), (None, {}))
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise, pointwise = values[0], values[1]
        expanded = np.repeat(k_in, layer.depth_multiplier)
        new = [depthwise[:, :, k_in, :], pointwise[:, :, expanded, :][..., k_out]]
    else:
        kernel = values[0].copy()
        for target, ratios in merges.items():
            for channel, ratio in ratios.items():
                kernel[..., target, :] += ratio * kernel[..., channel, :]
        new = [kernel[..., k_in, :][..., k_out]]
    bias = values[-1] if layer.use_bias else np.zeros(k_out.size, "float32")
    if delta is not None:
        bias = bias + delta
    if layer.use_bias or (delta is not None and np.any(delta)):
        new.append(bias[k_out])
    return new
