"""ResNets: basic-block `resnet` and its CIFAR depths, bottleneck `resnet50`."""

from __future__ import annotations

import keras
from keras import layers

from kerasreg.models._blocks import BN_MOMENTUM, check_shape, conv_bn, conv_bn_relu

_CIFAR_WIDTHS = (16, 32, 64)


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

    Raises:
        ValueError: for `blocks_per_stage < 1`, an `input_shape` that is not
            `(H, W, C)` or `num_classes < 2`.

    Example:

    >>> model = resnet((8, 8, 1), 10, widths=(8, 16), blocks_per_stage=1)
    >>> model.output_shape
    (None, 10)

    Reference:
        - [He et al., 2016](https://arxiv.org/abs/1512.03385)
    """
    check_shape(input_shape, num_classes)
    if blocks_per_stage < 1:
        raise ValueError(
            f"Expected blocks_per_stage >= 1. Received: {blocks_per_stage}"
        )
    inputs = keras.Input(input_shape, name="image")
    x = conv_bn_relu(inputs, widths[0], "stem", momentum=bn_momentum)
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
    y = conv_bn_relu(x, width, f"{name}_a", strides=strides, momentum=momentum)
    y = conv_bn(y, width, f"{name}_b", momentum=momentum)
    if strides != 1 or x.shape[-1] != width:
        # Option B of He et al.: a 1x1 Conv-BN projection where shapes change.
        shortcut = conv_bn(
            x,
            width,
            f"{name}_proj",
            kernel_size=1,
            strides=strides,
            padding="valid",
            momentum=momentum,
        )
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet_cifar(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    depth=20,
    width=1.0,
    bn_momentum=BN_MOMENTUM,
    name=None,
):
    """He et al.'s CIFAR ResNet of a given depth: 20, 32, 44, 56, 110, ...

    Three stages of 16, 32 and 64 channels (times `width`) at 32x32, 16x16
    and 8x8, each of `n = (depth - 2) / 6` basic blocks, after a 3x3 stem
    of 16 channels; global average pooling and a Dense logits layer. Where
    the shape changes (the first block of stages 2 and 3) the shortcut is a
    1x1 Conv-BN projection, He et al.'s option B: 2,560 more kernel weights
    (and two BatchNormalizations) and 262,144 more multiply-accumulates
    than the parameter-free option A of the paper's CIFAR table. The layers are those
    of `resnet(widths=..., blocks_per_stage=n)`.

    Args:
        input_shape: `(H, W, C)`. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        depth: `6n + 2` layers with weights, for n >= 1. Defaults to `20`.
        width: multiplier of the 16/32/64 channels. Defaults to `1.0`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `f"resnet{depth}"`.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: for a depth that is not `6n + 2`, a `width <= 0`, an
            `input_shape` that is not `(H, W, C)` or `num_classes < 2`.

    Example:

    >>> model = resnet_cifar((32, 32, 3), 10, depth=32)
    >>> model.name, model.count_params()
    ('resnet32', 469370)

    Reference:
        - [He et al., 2016](https://arxiv.org/abs/1512.03385), section 4.2
    """
    if (
        isinstance(depth, bool)
        or not isinstance(depth, int)
        or depth < 8
        or ((depth - 2) % 6)
    ):
        raise ValueError(
            "Expected depth = 6n + 2 with n >= 1, e.g. 20, 32, 44, 56 or 110. "
            f"Received: depth={depth!r}"
        )
    if not width > 0:
        raise ValueError(f"Expected width > 0. Received: width={width!r}")
    widths = tuple(max(1, round(w * width)) for w in _CIFAR_WIDTHS)
    return resnet(
        input_shape,
        num_classes,
        widths=widths,
        blocks_per_stage=(depth - 2) // 6,
        bn_momentum=bn_momentum,
        name=name or f"resnet{depth}",
    )


def resnet20(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    width=1.0,
    bn_momentum=BN_MOMENTUM,
    name="resnet20",
):
    """ResNet-20 for CIFAR: `resnet_cifar` with depth 20 (3 blocks a stage).

    For `(32, 32, 3)` and 10 classes: 274,042 weights, of which 272,474 are
    trainable (the rest are BatchNormalization moving statistics; option A
    has 269,722, the paper's 0.27M), and 40,813,184 multiply-accumulates of
    conv and Dense layers (option A: 40.55M; about 41M in the literature).

    Args:
        input_shape: `(H, W, C)`. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        width: multiplier of the 16/32/64 channels. Defaults to `1.0`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"resnet20"`.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: as `resnet_cifar`.

    Example:

    >>> from kerasreg import metrics
    >>> model = resnet20((32, 32, 3), 10)
    >>> metrics.count_params(model), metrics.count_flops(model)
    (274042, 40813184)

    Reference:
        - [He et al., 2016](https://arxiv.org/abs/1512.03385), section 4.2
    """
    return resnet_cifar(
        input_shape,
        num_classes,
        depth=20,
        width=width,
        bn_momentum=bn_momentum,
        name=name,
    )


def resnet56(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    width=1.0,
    bn_momentum=BN_MOMENTUM,
    name="resnet56",
):
    """ResNet-56 for CIFAR: `resnet_cifar` with depth 56 (9 blocks a stage).

    The usual baseline of CIFAR channel pruning. For `(32, 32, 3)` and 10
    classes: 860,026 weights, of which 855,770 are trainable (Torch-Pruning's
    0.86M; option A has 853,018, the paper's 0.85M), and 125,747,840
    multiply-accumulates of conv and Dense layers (option A: the 125.49M
    often cited). Torch-Pruning reports 127.12M because its counter, adapted
    from ptflops, also counts BatchNormalization (2 per element), ReLU,
    pooling and biases; counted that way this model has 127.37M. See
    `docs/models.md`.

    Args:
        input_shape: `(H, W, C)`. Defaults to `(32, 32, 3)`.
        num_classes: number of output logits. Defaults to `10`.
        width: multiplier of the 16/32/64 channels. Defaults to `1.0`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.9`.
        name: model name. Defaults to `"resnet56"`.

    Returns:
        A functional `keras.Model` producing logits.

    Raises:
        ValueError: as `resnet_cifar`.

    Example:

    >>> from kerasreg import metrics
    >>> model = resnet56((32, 32, 3), 10)
    >>> metrics.count_params(model), metrics.count_flops(model)
    (860026, 125747840)

    Reference:
        - [He et al., 2016](https://arxiv.org/abs/1512.03385), section 4.2
        - [Fang et al., 2023 (Torch-Pruning)](https://arxiv.org/abs/2301.12900)
    """
    return resnet_cifar(
        input_shape,
        num_classes,
        depth=56,
        width=width,
        bn_momentum=bn_momentum,
        name=name,
    )


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

    Raises:
        ValueError: for an `input_shape` that is not `(H, W, C)` or smaller
            than 32x32, or `num_classes < 2`.
    """
    check_shape(
        input_shape,
        num_classes,
        min_size=32,
        model="resnet50",
        hint="Use `resnet` for smaller images.",
    )
    base = keras.applications.ResNet50(
        weights=None,
        include_top=True,
        input_shape=tuple(input_shape),
        classes=num_classes,
        classifier_activation=None,
    )
    return keras.Model(base.inputs, base.outputs, name=name)
