"""The layers of a quantization-aware model: fake-quantized weights and tensors.

TFLite's int8 scheme, which these layers simulate in float while training:

- weights: symmetric, narrow range [-127, 127], one scale per output
  channel (`scale = max|w| / 127`), zero point 0;
- activations: one asymmetric range `[min, max]` per tensor (it always
  contains 0), 256 levels, learned as a moving average of the batch
  ranges while training.
- biases: int32 in steps of `input scale × weight scale` of each output
  channel; the input scale is that of the `ActivationQuantizer` feeding
  the layer. Left unrounded, a bias sits up to half a step off the file's,
  which flips a rounding in about 3 of 10,000 values of each layer and
  compounds with depth (7% of a random-BN resnet20's values after its
  first stage, 0.2% with the rounding; `tests/compression/quantization`).

Weights are rounded with a straight-through estimator: the forward pass
uses the rounded kernel, the gradient reaches the float kernel unchanged.
The rounded values lie exactly on the grid the converter quantizes a
float kernel to, so the converter reproduces them bit for bit.
Activations go through `tf.quantization.fake_quant_with_min_max_vars`,
the op the TFLite converter reads ranges from: a model built of these
layers converts to int8 with no representative dataset.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "ActivationQuantizer",
    "QuantizedConv2D",
    "QuantizedDepthwiseConv2D",
    "QuantizedDense",
    "fake_quantize_weights",
    "is_quantization_aware",
]

_LEVELS = 127  # int8 narrow range: -127..127

# Layers whose int8 kernel keeps its input's scale and zero point.
_SAME_RANGE = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.UpSampling2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.Identity,
    keras.layers.RandomFlip,
    keras.layers.RandomCrop,
    keras.layers.RandomTranslation,
    keras.layers.RandomRotation,
    keras.layers.RandomZoom,
    keras.layers.RandomContrast,
    keras.layers.RandomBrightness,
    keras.layers.RandomErasing,
)


def keeps_range(layer):
    """Whether TFLite runs `layer` in int8 with its input's scale and zero point."""
    return isinstance(layer, _SAME_RANGE)


def fake_quantize_weights(kernel, axes, per_channel=True):
    """`kernel` rounded to TFLite's symmetric int8 grid, straight-through.

    Args:
        kernel: a float tensor.
        axes: the axes that are *not* the output channel (reduced over for
            the per-channel scale).
        per_channel: one scale per output channel; `False` for one scale
            for the whole tensor.

    Example:

    >>> w = keras.ops.convert_to_tensor([[1.0, -0.5], [0.3, 0.25]])
    >>> q = fake_quantize_weights(w, axes=(0,))
    >>> import numpy as np
    >>> steps = keras.ops.convert_to_numpy(q) / (np.array([1.0, 0.5]) / 127)
    >>> np.round(steps).astype(int).tolist()
    [[127, -127], [38, 64]]
    """
    scale = _weight_scale(kernel, axes, per_channel)
    rounded = ops.clip(ops.round(kernel / scale), -_LEVELS, _LEVELS) * scale
    return kernel + ops.stop_gradient(rounded - kernel)


def _weight_scale(kernel, axes, per_channel):
    """TFLite's symmetric weight scale, `max|w| / 127`, broadcastable to `kernel`."""
    axes = tuple(axes) if per_channel else tuple(range(len(kernel.shape)))
    largest = ops.max(ops.abs(kernel), axis=axes, keepdims=True)
    return ops.stop_gradient(ops.maximum(largest, 1e-12) / _LEVELS)


class _KeepZeros(keras.constraints.Constraint):
    """`kernel * mask` after every optimizer update: pruned weights stay 0."""

    def __init__(self, mask):
        self.mask = mask

    def __call__(self, w):
        return ops.multiply(w, self.mask)


class _QuantizedWeights:
    """What the three weight layers share: config, the zero mask, the kernel."""

    _channel_axes = None  # the kernel axes reduced for the per-channel scale

    def __init__(self, *args, per_channel=True, keep_zeros=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.per_channel = bool(per_channel)
        self.keep_zeros = bool(keep_zeros)

    def build(self, input_shape):
        super().build(input_shape)
        if not self.keep_zeros:
            return
        self.kernel_mask = self.add_weight(
            name="kernel_mask",
            shape=self.kernel.shape,
            initializer="ones",
            trainable=False,
        )
        self.kernel.constraint = _KeepZeros(self.kernel_mask)

    def quantized_kernel(self):
        """The kernel as the int8 file will hold it (in float).

        Per tensor, through `tf.quantization.fake_quant_with_min_max_vars`
        on `[-max|w|, max|w|]` (narrow range: the same grid): the converter
        quantizes a bare float kernel per channel whatever it is told, and
        takes one scale only from that op.
        """
        if self.per_channel:
            return fake_quantize_weights(self.kernel, self._channel_axes)
        import tensorflow as tf

        largest = ops.stop_gradient(ops.maximum(ops.max(ops.abs(self.kernel)), 1e-12))
        return tf.quantization.fake_quant_with_min_max_vars(
            self.kernel, -largest, largest, num_bits=8, narrow_range=True
        )

    def quantized_bias(self):
        """The bias as the int8 file will hold it (in float).

        The converter stores the bias in int32 steps of `input scale ×
        weight scale` of each output channel. Rounded to that grid here
        (straight-through) when the input's range is known, that is when
        an `ActivationQuantizer` feeds this layer, possibly through layers
        that keep its range (pooling, reshapes); otherwise the float bias.
        """
        source = _source_quantizer(self)
        if source is None:
            return self.bias
        weight_scale = _weight_scale(self.kernel, self._channel_axes, self.per_channel)
        step = ops.stop_gradient(source.scale() * ops.reshape(weight_scale, (-1,)))
        known = ops.greater(step, 0.0)  # an untrained range is [0, 0]
        safe = ops.where(known, step, 1.0)
        rounded = ops.where(known, ops.round(self.bias / safe) * safe, self.bias)
        return self.bias + ops.stop_gradient(rounded - self.bias)

    def _output(self, outputs):
        if self.use_bias:
            outputs = ops.add(outputs, self.quantized_bias())
        return self.activation(outputs)

    def get_config(self):
        config = super().get_config()
        config.update(per_channel=self.per_channel, keep_zeros=self.keep_zeros)
        return config


@keras.saving.register_keras_serializable(package="kerasreg")
class QuantizedConv2D(_QuantizedWeights, keras.layers.Conv2D):
    """`Conv2D` whose kernel is fake-quantized to int8 on every call.

    Built by `quantize_aware`; a BatchNormalization that followed the
    convolution is already folded into `kernel` and `bias`, and a ReLU or
    ReLU6 after it is its `activation`, as in the converted file.

    Args:
        per_channel: one weight scale per output channel (TFLite's
            default) or one for the kernel. Defaults to `True`.
        keep_zeros: keep the kernel's zeros at zero while training (a
            pruned kernel); the mask is the weight `kernel_mask`.
            Defaults to `False`.
        **kwargs: `keras.layers.Conv2D` arguments.
    """

    _channel_axes = (0, 1, 2)

    def call(self, inputs):
        outputs = self.convolution_op(inputs, self.quantized_kernel())
        return self._output(outputs)


@keras.saving.register_keras_serializable(package="kerasreg")
class QuantizedDepthwiseConv2D(_QuantizedWeights, keras.layers.DepthwiseConv2D):
    """`DepthwiseConv2D` with a fake-quantized kernel (see `QuantizedConv2D`).

    TFLite stores a depthwise kernel as `(1, h, w, channels * multiplier)`
    with one scale per output channel, so the scale is taken over the
    spatial axes only.
    """

    _channel_axes = (0, 1)

    def call(self, inputs):
        outputs = ops.depthwise_conv(
            inputs,
            self.quantized_kernel(),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        return self._output(outputs)


@keras.saving.register_keras_serializable(package="kerasreg")
class QuantizedDense(_QuantizedWeights, keras.layers.Dense):
    """`Dense` with a fake-quantized kernel (see `QuantizedConv2D`).

    The converter quantizes a fully connected kernel per output channel
    itself; the kernel is rounded to that same grid here.
    """

    _channel_axes = (0,)

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.quantized_kernel())
        return self._output(outputs)


@keras.saving.register_keras_serializable(package="kerasreg")
class ActivationQuantizer(keras.layers.Layer):
    """Fake-quantize a tensor to int8 with a range learned while training.

    In training, the range `[range_min, range_max]` follows the batch
    minimum and maximum (0 always included) as an exponential moving
    average; the first batch sets it. At inference it is fixed. The
    output is `tf.quantization.fake_quant_with_min_max_vars` of the input,
    the op whose range the TFLite converter writes into the file.

    Args:
        ema_decay: weight of the old range in the moving average.
            Defaults to `0.99`.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> q = ActivationQuantizer()
    >>> x = keras.ops.convert_to_tensor([[0.0, 0.5, 1.0]])
    >>> _ = q(x, training=True)
    >>> float(q.range_min.numpy()), float(q.range_max.numpy())
    (0.0, 1.0)
    """

    def __init__(self, ema_decay=0.99, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(
                f"Expected 0 <= ema_decay < 1. Received: ema_decay={ema_decay}"
            )
        self.ema_decay = float(ema_decay)
        self.calibrating = False  # track ranges at inference too (`calibrate`)

    def build(self, input_shape):
        def scalar(name, value):
            return self.add_weight(
                name=name,
                shape=(),
                initializer=keras.initializers.Constant(value),
                trainable=False,
                aggregation="mean",
            )

        self.range_min = scalar("range_min", 0.0)
        self.range_max = scalar("range_max", 0.0)
        self.seen = scalar("seen", 0.0)

    def call(self, inputs, training=False):
        import tensorflow as tf

        if training or self.calibrating:
            self._track(inputs)
        return tf.quantization.fake_quant_with_min_max_vars(
            inputs, self.range_min, self.range_max, num_bits=8, narrow_range=False
        )

    def _track(self, inputs):
        low = ops.minimum(ops.min(inputs), 0.0)
        high = ops.maximum(ops.max(inputs), 0.0)
        first = ops.equal(self.seen, 0.0)
        decay = self.ema_decay
        self.range_min.assign(
            ops.where(first, low, decay * self.range_min + (1.0 - decay) * low)
        )
        self.range_max.assign(
            ops.where(first, high, decay * self.range_max + (1.0 - decay) * high)
        )
        self.seen.assign(1.0)

    def scale(self):
        """The int8 scale of the range, `(max - min) / 255` (0 before any data)."""
        return (self.range_max - self.range_min) / 255.0

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ema_decay": self.ema_decay}


def _source_quantizer(layer):
    """The `ActivationQuantizer` whose range `layer`'s input has, or `None`.

    Followed back through the graph the model was built with, across
    layers that keep their input's range (pooling, reshapes, padding);
    `None` when the layer is not yet in a graph, when its calls read
    different ranges, or when no quantizer feeds it.
    """
    from kerasreg._keras_compat import inbound_nodes

    nodes = inbound_nodes(layer)
    if not nodes:
        return None  # the symbolic call that is building the graph
    cached = layer.__dict__.get("_kerasreg_source")
    if cached is not None and cached[0] == len(nodes):
        return cached[1]
    sources = {id(s): s for s in (_quantizer_before(node) for node in nodes)}
    source = next(iter(sources.values())) if len(sources) == 1 else None
    object.__setattr__(layer, "_kerasreg_source", (len(nodes), source))
    return source


def _quantizer_before(node):
    from kerasreg._keras_compat import inbound_nodes, keras_history, node_input_tensors

    while True:
        tensors = node_input_tensors(node)
        if len(tensors) != 1:
            return None
        operation, index = keras_history(tensors[0])
        if isinstance(operation, ActivationQuantizer):
            return operation
        if not keeps_range(operation):
            return None
        node = inbound_nodes(operation)[index]


def is_quantization_aware(model):
    """Whether `model` (nested models included) has an `ActivationQuantizer`.

    Example:

    >>> is_quantization_aware(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    False
    """
    from kerasreg._layer_tree import leaf_layers

    return any(isinstance(layer, ActivationQuantizer) for layer in leaf_layers(model))


def weights_per_channel(model):
    """Whether a quantization-aware model's weights have per-channel scales.

    `True` or `False` as `quantize_aware(per_channel=...)` built it; `None`
    when `model` has no fake-quantized weight layer.

    Raises:
        ValueError: if its layers mix both.
    """
    from kerasreg._layer_tree import leaf_layers

    found = {
        layer.per_channel
        for layer in leaf_layers(model)
        if isinstance(layer, _QuantizedWeights)
    }
    if len(found) > 1:
        raise ValueError(
            f"Model {model.name!r} mixes per-channel and per-tensor weight scales; "
            "a TFLite file can hold only one kind from a quantization-aware model."
        )
    return found.pop() if found else None
