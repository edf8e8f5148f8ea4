"""`mobilenetv2`: MobileNetV2 with the strides of the CIFAR implementations."""

from __future__ import annotations

import keras
from keras import layers

from kerasreg.models._blocks import (
    BN_MOMENTUM,
    check_shape,
    conv_bn,
    conv_bn_relu,
    depthwise_bn_relu,
)

# (expansion t, channels c, blocks n, stride s) of Sandler et al.'s table 2,
# with the CIFAR change: the second row's stride 2 -> 1 (and the stem's
# stride 2 -> 1), so a 32x32 image is downsampled 8x, to 4x4, not 32x.
_CIFAR_BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenetv2(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    alpha=1.0,
    bn_momentum=BN_MOMENTUM,
    name="mobilenetv2",
):
    """MobileNetV2 for CIFAR: inverted residuals, stride-1 stem.

    A 3x3 stem convolution of `32 * alpha` channels with stride 1 (not 2),
    then Sandler et al.'s 17 inverted residual blocks: a 1x1 expansion by 6
    (none in the first block), a 3x3 depthwise convolution and a linear 1x1
    projection, with an identity shortcut where stride is 1 and the width is
    unchanged. As in the common CIFAR implementations, the first 24-channel
    block has stride 1 too, so a 32x32 image ends at 4x4. Then a 1x1
    convolution to 1280 channels, global average pooling and a Dense logits
    layer. Every convolution is followed by BatchNormalization and, except
    the projections, ReLU6. Channels are `alpha` times the paper's, rounded
    to multiples of 8 as in `keras.applications.MobileNetV2` (the last
    1280 is only widened, for `alpha > 1`), so the weights are exactly
    Keras's `MobileNetV2(alpha=alpha)` with a `num_classes` head.

    For `(32, 32, 3)` and 10 classes, alpha 1.0: 2,270,794 weights
    (2,236,682 trainable) and 87,976,448 multiply-accumulates; alpha 0.5:
    719,034 weights (700,490 trainable) and 27,969,024 multiply-accumulates
    (`kerasreg.metrics.count_flops`).

    Args:
        input_shape: `(H, W, C)`. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        alpha: width multiplier. Defaults to `1.0`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"mobilenetv2"`.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: for `alpha <= 0`, an `input_shape` that is not
            `(H, W, C)` or `num_classes < 2`.

    Example:

    >>> model = mobilenetv2((32, 32, 3), 10, alpha=0.5)
    >>> model.count_params()
    719034

    Reference:
        - [Sandler et al., 2018](https://arxiv.org/abs/1801.04381)
    """
    check_shape(input_shape, num_classes)
    if not alpha > 0:
        raise ValueError(f"Expected alpha > 0. Received: alpha={alpha!r}")
    inputs = keras.Input(input_shape, name="image")
    relu6 = {"momentum": bn_momentum, "max_value": 6.0}
    x = conv_bn_relu(inputs, _round_channels(32 * alpha), "stem", **relu6)
    block = 0
    for expansion, channels, repeats, first_stride in _CIFAR_BLOCKS:
        filters = _round_channels(int(channels * alpha))
        for i in range(repeats):
            block += 1
            strides = first_stride if i == 0 else 1
            x = _inverted_residual(
                x, filters, expansion, strides, f"block{block}", bn_momentum
            )
    head = _round_channels(1280 * alpha) if alpha > 1.0 else 1280
    x = conv_bn_relu(x, head, "head", kernel_size=1, **relu6)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _inverted_residual(x, filters, expansion, strides, name, momentum):
    """Expand 1x1 (ReLU6), depthwise 3x3 (ReLU6), project 1x1 (linear)."""
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = conv_bn_relu(
            y,
            in_channels * expansion,
            f"{name}_expand",
            kernel_size=1,
            momentum=momentum,
            max_value=6.0,
        )
    y = depthwise_bn_relu(
        y, f"{name}_dw", strides=strides, momentum=momentum, max_value=6.0
    )
    y = conv_bn(y, filters, f"{name}_project", kernel_size=1, momentum=momentum)
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def _round_channels(value, divisor=8):
    """Nearest multiple of `divisor`, never 10% below `value` (Keras's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded
