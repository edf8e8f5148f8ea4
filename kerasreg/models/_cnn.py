"""`cnn`: a Conv-BN-ReLU stack with a Flatten -> Dense head, and its students."""

from __future__ import annotations

import keras
from keras import layers

from kerasreg.models._blocks import BN_MOMENTUM, check_shape, conv_bn_relu


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

    Raises:
        ValueError: for an `input_shape` that is not `(H, W, C)` or
            `num_classes < 2`.

    Example:

    >>> model = cnn((8, 8, 1), 10)
    >>> model.output_shape
    (None, 10)
    """
    check_shape(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    size = min(input_shape[:2])
    for i, width in enumerate(filters):
        x = conv_bn_relu(x, width, f"block{i + 1}", momentum=bn_momentum)
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


def small_cnn(filters, name):
    """A `cnn` builder without the hidden Dense layer: a distillation student."""

    def build(input_shape, num_classes, **kwargs):
        kwargs = {"filters": filters, "dense_units": 0, "name": name, **kwargs}
        return cnn(input_shape, num_classes, **kwargs)

    return build
