"""VGG networks: `vgg` (configurable, small images) and `vgg11` (CIFAR)."""

from __future__ import annotations

import keras
from keras import layers

from kerasreg.models._blocks import BN_MOMENTUM, check_shape, conv_bn_relu

# VGG-11 ("A" in Simonyan & Zisserman), as the CIFAR configuration
# [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M]: one tuple of conv
# widths per stage, each stage ending in a 2x2 max pool.
_VGG11_STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))


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

    Raises:
        ValueError: for an `input_shape` that is not `(H, W, C)` or
            `num_classes < 2`.

    Example:

    >>> model = vgg((8, 8, 1), 10, widths=(8, 16))
    >>> model.count_params()
    4466
    """
    check_shape(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    size = min(input_shape[:2])
    for s, width in enumerate(widths):
        for c in range(convs_per_stage):
            x = conv_bn_relu(
                x, width, f"stage{s + 1}_conv{c + 1}", momentum=bn_momentum
            )
        if size > 1 and s < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"stage{s + 1}_pool")(x)
            size //= 2
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def vgg11(
    input_shape=(32, 32, 3), num_classes=10, *, bn_momentum=BN_MOMENTUM, name="vgg11"
):
    """VGG-11 with BatchNormalization, in its CIFAR form.

    The eight 3x3 convolutions of Simonyan & Zisserman's configuration "A"
    (`[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M]`), each
    followed by BatchNormalization and ReLU, five 2x2 max pools that take a
    32x32 image to 1x1, then global average pooling (the same as flattening
    the 1x1 map) and one Dense logits layer instead of ImageNet's three
    4096-wide ones: the CIFAR form Liu et al. slim (with VGG-19's
    configuration there).

    For `(32, 32, 3)` and 10 classes: 9,233,866 weights (9,228,362
    trainable; the rest are BatchNormalization moving statistics) and
    152,769,536 multiply-accumulates (`kerasreg.metrics.count_flops`: conv
    and Dense only).

    Args:
        input_shape: `(H, W, C)`, at least 32x32. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"vgg11"`.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: for an `input_shape` that is not `(H, W, C)` or smaller
            than 32x32, or `num_classes < 2`.

    Example:

    >>> model = vgg11((32, 32, 3), 10)
    >>> model.count_params()
    9233866

    Reference:
        - [Simonyan & Zisserman, 2015](https://arxiv.org/abs/1409.1556)
        - [Liu et al., 2017](https://arxiv.org/abs/1708.06519)
    """
    check_shape(
        input_shape,
        num_classes,
        min_size=32,
        model="vgg11",
        hint="Its five 2x2 max pools need 32 pixels; use `vgg` for smaller images.",
    )
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for s, widths in enumerate(_VGG11_STAGES):
        for c, width in enumerate(widths):
            x = conv_bn_relu(
                x, width, f"stage{s + 1}_conv{c + 1}", momentum=bn_momentum
            )
        x = layers.MaxPooling2D(2, name=f"stage{s + 1}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
