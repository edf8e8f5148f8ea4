"""Reference functional models: `cnn`, `vgg`, `resnet`, `resnet50`.

Every model is a functional `keras.Model` that ends in logits (no softmax)
and uses BatchNormalization after each convolution, so network slimming
applies to all of them. Examples, benchmarks, tests and the CLI use these.

BatchNormalization momentum defaults to 0.9 here, not Keras's 0.99: on small
data such as digits (23 steps an epoch at batch 64) the 0.99 moving averages
lag the weights by about 20 epochs and inference accuracy trails training
accuracy for that long.
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["cnn", "vgg", "resnet", "resnet50", "build", "MODELS"]

BN_MOMENTUM = 0.9


def _conv_bn_relu(x, filters, name, *, kernel_size=3, strides=1, momentum):
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def cnn(
    input_shape,
    num_classes,
    *,
    filters=(32, 64),
    dense_units=128,
    dropout=0.0,
    bn_momentum=BN_MOMENTUM,
    name="cnn",
):
    """A Conv-BN-ReLU stack with a Flatten -> Dense head.

    Each entry of `filters` is one stage: a Conv-BN-ReLU followed by 2x2 max
    pooling while the feature map is larger than 2x2. The head is Flatten,
    Dense-BN-ReLU, optional Dropout and a Dense logits layer.

    Args:
        input_shape: `(H, W, C)`.
        num_classes: number of output logits.
        filters: channels of each conv stage. Defaults to `(32, 64)`.
        dense_units: width of the hidden Dense layer; `0` drops it.
            Defaults to `128`.
        dropout: dropout rate before the logits. Defaults to `0.0`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"cnn"`.

    Returns:
        A functional `keras.Model` producing logits.

    Example:

    >>> model = cnn((8, 8, 1), 10)
    >>> model.output_shape
    (None, 10)
    """
    _check_shape(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    size = min(input_shape[:2])
    for i, width in enumerate(filters):
        x = _conv_bn_relu(x, width, f"block{i + 1}", momentum=bn_momentum)
        if size > 2:
            x = layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
            size //= 2
    x = layers.Flatten(name="flatten")(x)
    if dense_units:
        x = layers.Dense(dense_units, use_bias=False, name="fc")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name="fc_bn")(x)
        x = layers.ReLU(name="fc_relu")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def vgg(
    input_shape,
    num_classes,
    *,
    widths=(64, 128, 256),
    convs_per_stage=2,
    bn_momentum=BN_MOMENTUM,
    name="vgg",
):
    """A VGG-style network for small images.

    Each stage is `convs_per_stage` Conv-BN-ReLU layers and a 2x2 max pool
    (skipped once the feature map is 1x1), then global average pooling and a
    Dense logits layer, as in Liu et al.'s VGG for CIFAR.

    Args:
        input_shape: `(H, W, C)`.
        num_classes: number of output logits.
        widths: channels of each stage. Defaults to `(64, 128, 256)`.
        convs_per_stage: conv layers per stage. Defaults to `2`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"vgg"`.

    Returns:
        A functional `keras.Model` producing logits.
    """
    _check_shape(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    size = min(input_shape[:2])
    for s, width in enumerate(widths):
        for c in range(convs_per_stage):
            x = _conv_bn_relu(
                x, width, f"stage{s + 1}_conv{c + 1}", momentum=bn_momentum
            )
        if size > 1 and s < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"stage{s + 1}_pool")(x)
            size //= 2
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def resnet(
    input_shape,
    num_classes,
    *,
    widths=(16, 32, 64),
    blocks_per_stage=1,
    bn_momentum=BN_MOMENTUM,
    name="resnet",
):
    """A ResNet of basic blocks (He et al. 2016, CIFAR layout).

    A 3x3 stem, then one stage per entry of `widths`. A stage has
    `blocks_per_stage` basic blocks (Conv-BN-ReLU-Conv-BN plus shortcut,
    then ReLU); the first block of every stage after the first halves the
    resolution and uses a 1x1 Conv-BN projection shortcut. Global average
    pooling and a Dense logits layer end the network. Depth is
    `6 * blocks_per_stage + 2` with three stages.

    Args:
        input_shape: `(H, W, C)`.
        num_classes: number of output logits.
        widths: channels of each stage. Defaults to `(16, 32, 64)`.
        blocks_per_stage: basic blocks per stage. Defaults to `1`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"resnet"`.

    Returns:
        A functional `keras.Model` producing logits.

    Example:

    >>> model = resnet((8, 8, 1), 10, widths=(8, 16), blocks_per_stage=1)
    >>> model.output_shape
    (None, 10)
    """
    _check_shape(input_shape, num_classes)
    if blocks_per_stage < 1:
        raise ValueError(
            f"Expected blocks_per_stage >= 1. Received: {blocks_per_stage}"
        )
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(inputs, widths[0], "stem", momentum=bn_momentum)
    for s, width in enumerate(widths):
        for b in range(blocks_per_stage):
            strides = 2 if (s > 0 and b == 0) else 1
            x = _basic_block(
                x, width, strides, f"stage{s + 1}_block{b + 1}", bn_momentum
            )
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _basic_block(x, width, strides, name, momentum):
    shortcut = x
    y = _conv_bn_relu(x, width, f"{name}_a", strides=strides, momentum=momentum)
    y = layers.Conv2D(
        width,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_b_conv",
    )(y)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_b_bn")(y)
    if strides != 1 or x.shape[-1] != width:
        shortcut = layers.Conv2D(
            width,
            1,
            strides=strides,
            use_bias=False,
            kernel_initializer="he_normal",
            name=f"{name}_proj_conv",
        )(x)
        shortcut = layers.BatchNormalization(momentum=momentum, name=f"{name}_proj_bn")(
            shortcut
        )
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet50(input_shape=(32, 32, 3), num_classes=10, *, name="resnet50"):
    """The bottleneck ResNet-50 of the slimming seed, for 32x32 inputs.

    Backed by `keras.applications.ResNet50(weights=None)`: about 23.6M
    parameters with a 10-class head, ending in logits.

    Args:
        input_shape: `(H, W, C)`, at least 32x32. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        name: model name. Defaults to `"resnet50"`.

    Returns:
        A functional `keras.Model` producing logits.
    """
    _check_shape(input_shape, num_classes)
    if min(input_shape[:2]) < 32:
        raise ValueError(
            f"resnet50 needs inputs of at least 32x32. Received: "
            f"input_shape={tuple(input_shape)}. Use `resnet` for smaller images."
        )
    base = keras.applications.ResNet50(
        weights=None,
        include_top=True,
        input_shape=tuple(input_shape),
        classes=num_classes,
        classifier_activation=None,
    )
    return keras.Model(base.inputs, base.outputs, name=name)


def _small_cnn(filters, name):
    """A `cnn` builder without the hidden Dense layer: a distillation student."""

    def build(input_shape, num_classes, **kwargs):
        kwargs = {"filters": filters, "dense_units": 0, "name": name, **kwargs}
        return cnn(input_shape, num_classes, **kwargs)

    return build


MODELS = {
    "cnn": cnn,
    "cnn-tiny": _small_cnn((8, 16), "cnn_tiny"),
    # 1,394 params on digits: the distillation benchmark's student.
    "cnn-nano": _small_cnn((8,), "cnn_nano"),
    "vgg": vgg,
    "resnet": resnet,
    "resnet50": resnet50,
}


def build(name, input_shape, num_classes, **kwargs):
    """Build a reference model by name.

    Args:
        name: one of `MODELS`: `"cnn"`, `"cnn-tiny"`, `"cnn-nano"`, `"vgg"`,
            `"resnet"`, `"resnet50"`.
        input_shape: `(H, W, C)`.
        num_classes: number of output logits.
        **kwargs: passed to the builder.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in MODELS:
        raise ValueError(
            f"Unknown model: name={name!r}. Expected one of {', '.join(MODELS)}."
        )
    return MODELS[name](tuple(input_shape), int(num_classes), **kwargs)


def _check_shape(input_shape, num_classes):
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"Expected input_shape=(H, W, C). Received: input_shape={input_shape}"
        )
    if int(num_classes) < 2:
        raise ValueError(f"Expected num_classes >= 2. Received: {num_classes}")
