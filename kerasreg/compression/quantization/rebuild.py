"""`quantize_aware`: a functional model rebuilt to train as TFLite int8 runs.

The rebuild walks the model's flattened graph (nested models inlined, as
`shrink` does) and gives every layer one of these roles:

- *head*: a Conv2D, DepthwiseConv2D or Dense becomes its `Quantized*`
  layer. A BatchNormalization that is its only reader is folded into its
  kernel and bias with the moving statistics (`w·γ/σ`, `(b-μ)·γ/σ+β`), and
  a ReLU or ReLU6 after that is fused into its activation: the converter
  folds and fuses the same ops, so the float kernel trained here is the
  one it quantizes. One `ActivationQuantizer` follows the fused chain.
- *fused*: the folded BatchNormalization and the fused activation; they
  disappear from the graph.
- *same-range*: layers whose int8 kernel keeps its input's scale and zero
  point (max pooling, reshapes, padding, dropout, random augmentation):
  copied, no quantizer.
- *quantized*: other layers TFLite runs in int8 (Add, Concatenate,
  average pooling, other activations, a BatchNormalization with no
  convolution to fold into): copied, then an `ActivationQuantizer`. A
  standalone BatchNormalization is frozen (`trainable=False`).

Every model input gets an `ActivationQuantizer` too. Anything else has no
int8 simulation: `strict=True` refuses it by name, `strict=False` leaves
it in float and warns.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from kerasreg._keras_compat import functional_graph, outputs_struct
from kerasreg.compression.quantization.layers import ActivationQuantizer
from kerasreg.compression.quantization.roles import head_class, layer_roles

__all__ = ["quantize_aware", "calibrate", "fold_batchnorm"]


def quantize_aware(
    model,
    *,
    per_channel=True,
    bits=8,
    ema_decay=0.99,
    strict=True,
    calibration_data=None,
):
    """A copy of `model` that trains while simulating TFLite int8 inference.

    Train it with `model.fit` (a few epochs at a tenth of the original
    learning rate is the usual fine-tune), then export it with
    `to_tflite(qat_model, path, "int8-full")`: the converter reads the
    learned ranges from the model and needs no representative dataset.

    Args:
        model: a built functional or Sequential `keras.Model`; nested
            functional and Sequential models are inlined.
        per_channel: one weight scale per output channel (TFLite's
            default) or one per kernel. Defaults to `True`.
        bits: the integer width simulated; only 8, TFLite's int8 kernels.
        ema_decay: moving-average weight of the activation ranges.
            Defaults to `0.99`.
        strict: refuse a layer with no int8 simulation (`True`, the
            default), or leave it in float and warn (`False`).
        calibration_data: optional inputs to set the activation ranges
            before training (see `calibrate`); without it the first
            training batch sets them.

    Returns:
        A new, uncompiled `keras.Model`. Kernels that contain exact zeros
        (a pruned model) keep them while training.

    Raises:
        ValueError: for `bits` other than 8, a subclassed model, a model
            that is already quantization-aware, a model with no Conv2D,
            DepthwiseConv2D or Dense layer, or (with `strict=True`) a
            layer with no int8 simulation.

    Example:

    >>> from kerasreg import models
    >>> model = models.build("cnn-tiny", (8, 8, 1), 10)
    >>> qat = quantize_aware(model)
    >>> sorted({type(x).__name__ for x in qat.layers})[:2]
    ['ActivationQuantizer', 'Flatten']
    """
    from kerasreg.compression.surgery import ChannelGraph

    _check_arguments(model, bits, ema_decay)
    graph = ChannelGraph(model)
    roles = layer_roles(graph)
    floats = [call.layer.name for call in graph.calls if roles[id(call)][0] == "float"]
    if floats and strict:
        kinds = sorted(
            {type(c.layer).__name__ for c in graph.calls if c.layer.name in floats}
        )
        raise ValueError(
            f"quantize_aware has no int8 simulation for layer(s) {floats} "
            f"({', '.join(kinds)}) of model {model.name!r}. Pass strict=False "
            "to leave them in float (the converter then runs them in float "
            "between dequantize and quantize ops)."
        )
    if floats:
        warnings.warn(
            f"quantize_aware left layer(s) {floats} of model {model.name!r} in "
            "float: they have no int8 simulation.",
            stacklevel=2,
        )
    options = {"per_channel": per_channel, "ema_decay": ema_decay}
    qat = _rebuild(graph, roles, options)
    if calibration_data is not None:
        calibrate(qat, calibration_data)
    return qat


def calibrate(model, x, batch_size=64):
    """Set a quantization-aware model's activation ranges from inputs `x`.

    Runs `x` through `model` at inference (dropout off, no weight change)
    with every `ActivationQuantizer` tracking its range, as training
    would. Useful before evaluating or exporting a model that has not
    trained yet.

    Args:
        model: a model from `quantize_aware`.
        x: an array of inputs, preprocessed like the training inputs.
        batch_size: inputs per forward pass. Defaults to `64`.

    Returns:
        `model`.
    """
    quantizers = [x_ for x_ in _leaves(model) if isinstance(x_, ActivationQuantizer)]
    if not quantizers:
        raise ValueError(
            f"Model {model.name!r} has no ActivationQuantizer; build it with "
            "quantize_aware first."
        )
    x = np.asarray(x, dtype="float32")
    if len(x) == 0:
        raise ValueError("Received an empty x; pass some inputs to calibrate on.")
    for quantizer in quantizers:
        quantizer.calibrating = True
    try:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size], training=False)
    finally:
        for quantizer in quantizers:
            quantizer.calibrating = False
    return model


def _leaves(model):
    from kerasreg._layer_tree import leaf_layers

    return leaf_layers(model)


def _check_arguments(model, bits, ema_decay):
    if bits != 8:
        raise ValueError(
            "quantize_aware simulates TFLite's int8 kernels, so bits must be 8. "
            f"Received: bits={bits!r}"
        )
    if not 0.0 <= ema_decay < 1.0:
        raise ValueError(
            f"Expected 0 <= ema_decay < 1. Received: ema_decay={ema_decay}"
        )
    if functional_graph(model) is None:
        raise ValueError(
            f"quantize_aware needs a functional or Sequential model; model "
            f"{model.name!r} is a subclassed {type(model).__name__} with no graph "
            "to rewrite. Rebuild it with the functional API."
        )
    leaves = list(_leaves(model))
    if any(isinstance(x, ActivationQuantizer) for x in leaves):
        raise ValueError(f"Model {model.name!r} is already quantization-aware.")
    if not any(head_class(x) for x in leaves):
        raise ValueError(
            f"Model {model.name!r} has no Conv2D, DepthwiseConv2D or Dense layer, "
            "so quantize_aware has no weights to quantize."
        )


def _rebuild(graph, roles, options):
    from kerasreg.compression.surgery import replay

    built, copies = {}, []

    def layer_for(call):
        role, chain = roles[id(call)]
        if role == "fused":
            return lambda x, *args, **kwargs: x
        if id(call.layer) not in built:
            built[id(call.layer)] = _new_layer(call.layer, role, chain, options)
            copies.append((call.layer, built[id(call.layer)], chain))
        layer = built[id(call.layer)]
        if role in ("same", "float"):
            return layer
        name = chain["last"] if role == "head" else call.layer.name
        steps = [layer, ActivationQuantizer(options["ema_decay"], name=f"{name}_quant")]
        if role == "head" and chain["after"] is not None:
            steps.append(keras.layers.Activation(chain["after"], name=f"{name}_act"))
            steps.append(
                ActivationQuantizer(options["ema_decay"], name=f"{name}_act_quant")
            )
        return lambda *args, **kwargs: _run(steps, args, kwargs)

    originals = functional_graph(graph.model).inputs
    inputs = [
        keras.Input(shape=x.shape[1:], name=x.name.split(":")[0], dtype=x.dtype)
        for x in originals
    ]
    quantized = [
        ActivationQuantizer(options["ema_decay"], name=f"{x.name.split(':')[0]}_quant")(
            x
        )
        if "float" in str(x.dtype)
        else x
        for x in inputs
    ]
    values = replay(graph, quantized, layer_for)
    outputs = [values[tid] for tid in graph.outputs]
    struct = outputs_struct(functional_graph(graph.model))
    model = keras.Model(
        inputs if len(inputs) > 1 else inputs[0],
        keras.tree.pack_sequence_as(struct, outputs),  # a dict stays a dict
        name=f"{graph.model.name}_qat",
    )
    for old, new, chain in copies:
        _copy_weights(old, new, chain)
    return model


def _run(steps, args, kwargs):
    out = steps[0](*args, **kwargs)
    for step in steps[1:]:
        out = step(out)
    return out


def _new_layer(layer, role, chain, options):
    if not isinstance(layer, keras.layers.Layer):
        return layer  # a stateless keras.ops operation: reuse it
    config = layer.get_config()
    if role == "head":
        config.update(
            activation=chain["activation"],
            use_bias=config["use_bias"] or chain["bn"] is not None,
            per_channel=options["per_channel"],
            keep_zeros=bool(np.any(_kernel(layer) == 0.0)),
        )
        config.pop("quantization_config", None)
        return head_class(layer).from_config(config)
    new = layer.__class__.from_config(config)
    if isinstance(layer, keras.layers.BatchNormalization):
        new.trainable = False  # frozen statistics, as in the converted file
    return new


def _kernel(layer):
    return np.asarray(layer.kernel.numpy())


def _copy_weights(old, new, chain):
    if new is old:
        return
    if chain is None:
        new.set_weights(old.get_weights())
        return
    kernel, bias = fold_batchnorm(old, chain["bn"])
    new.kernel.assign(kernel)
    if new.use_bias:
        new.bias.assign(bias)
    if new.keep_zeros:
        new.kernel_mask.assign((kernel != 0.0).astype("float32"))


def fold_batchnorm(layer, bn):
    """`layer`'s kernel and bias with BatchNormalization `bn` folded in.

    At inference `bn(layer(x))` is `layer(x)` with the kernel's output
    channel c scaled by `γ_c/σ_c` (σ² the moving variance plus ε) and the
    bias `(b_c - μ_c)·γ_c/σ_c + β_c`: the TFLite converter folds the same.

    Args:
        layer: a built Conv2D, DepthwiseConv2D or Dense.
        bn: the BatchNormalization over its output channels, or `None`
            (the kernel and bias as they are; a zero bias if it has none).

    Returns:
        `(kernel, bias)` as float32 NumPy arrays.

    Example:

    >>> conv = keras.layers.Conv2D(2, 1, use_bias=False)
    >>> bn = keras.layers.BatchNormalization(epsilon=0.0)
    >>> y = bn(conv(np.ones((1, 1, 1, 1), "float32")))
    >>> _ = bn.gamma.assign([2.0, 3.0])
    >>> kernel, bias = fold_batchnorm(conv, bn)
    >>> bool(np.allclose(kernel, conv.kernel.numpy() * [2.0, 3.0])), bias.tolist()
    (True, [0.0, 0.0])
    """
    kernel = _kernel(layer)
    channels = kernel.shape[-1] * (kernel.shape[-2] if _is_depthwise(layer) else 1)
    bias = layer.bias.numpy() if layer.use_bias else np.zeros(channels, "float32")
    if bn is None:
        return kernel, bias
    mean, variance = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    gamma = bn.gamma.numpy() if bn.scale else np.ones_like(mean)
    beta = bn.beta.numpy() if bn.center else np.zeros_like(mean)
    factor = gamma / np.sqrt(variance + bn.epsilon)
    shape = kernel.shape[-2:] if _is_depthwise(layer) else kernel.shape[-1:]
    kernel = kernel * factor.reshape(shape)
    return kernel.astype("float32"), ((bias - mean) * factor + beta).astype("float32")


def _is_depthwise(layer):
    return isinstance(layer, keras.layers.DepthwiseConv2D)
