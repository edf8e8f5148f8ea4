"""Pieces every reference model is made of: conv-BN(-ReLU) and input checks.

Convolutions have no bias (the BatchNormalization after them has one) and a
He-normal initializer; the BatchNormalization after each is what network
slimming prunes by.
"""

from __future__ import annotations

from keras import layers

# Keras's default is 0.99; see the `kerasreg.models` docstring for why 0.9.
BN_MOMENTUM = 0.9


def conv_bn(x, filters, name, *, kernel_size=3, strides=1, padding="same", momentum):
    """`Conv2D` (no bias) then `BatchNormalization`: `{name}_conv`, `{name}_bn`."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)


def conv_bn_relu(
    x, filters, name, *, kernel_size=3, strides=1, momentum, max_value=None
):
    """`conv_bn` then `ReLU` (`ReLU6` with `max_value=6`): `{name}_relu`."""
    x = conv_bn(
        x, filters, name, kernel_size=kernel_size, strides=strides, momentum=momentum
    )
    return layers.ReLU(max_value=max_value, name=f"{name}_relu")(x)


def depthwise_bn_relu(x, name, *, strides=1, momentum, max_value=None):
    """3x3 `DepthwiseConv2D` (no bias), `BatchNormalization`, `ReLU`."""
    x = layers.DepthwiseConv2D(
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        depthwise_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(max_value=max_value, name=f"{name}_relu")(x)


def check_shape(input_shape, num_classes, *, min_size=1, model=None, hint=""):
    """Raise `ValueError` unless `input_shape` is `(H, W, C)` and
    `num_classes >= 2`; with `min_size`, also unless H and W are at least
    that (`model` names the builder in the message, `hint` ends it).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"Expected input_shape=(H, W, C). Received: input_shape={input_shape}"
        )
    if int(num_classes) < 2:
        raise ValueError(f"Expected num_classes >= 2. Received: {num_classes}")
    if min_size > 1 and min(input_shape[:2]) < min_size:
        raise ValueError(
            f"{model} needs inputs of at least {min_size}x{min_size}. Received: "
            f"input_shape={tuple(input_shape)}. {hint}".rstrip()
        )
