"""Toy topologies shared by the compression tests.

Small functional and Sequential models built from `conv_bn` blocks and a
`head`, one per kind of channel coupling: residual adds, concatenation,
squeeze-excite, depthwise and separable convolutions, padding and pooling,
nested models, a shared layer and raw `keras.ops` on KerasTensors. The
surgery tests shrink every one of them; the slimming tests mark channels of
`residual_model`.
"""

import keras
from keras import layers


def conv_bn(x, filters, name, kernel=3, **kw):
    """`name_conv` (same padding), `name_bn`, `name_relu` applied to `x`."""
    x = layers.Conv2D(filters, kernel, padding="same", name=f"{name}_conv", **kw)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def head(x, n=5):
    """Global average pooling, then `n` logits."""
    x = layers.GlobalAveragePooling2D()(x)
    return layers.Dense(n)(x)


def sequential_model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Conv2D(8, 3, padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.3),
            layers.Conv2D(8, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.GlobalMaxPooling2D(),
            layers.Dense(4),
        ]
    )


def residual_model():
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 8, "stem")
    y = conv_bn(x, 8, "a")
    y = layers.Conv2D(8, 3, padding="same", use_bias=False, name="a2_conv")(y)
    y = layers.BatchNormalization(name="a2_bn")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    y = conv_bn(x, 16, "b", strides=2)
    s = layers.Conv2D(16, 1, strides=2)(x)
    s = layers.BatchNormalization()(s)
    x = layers.ReLU()(layers.Add()([y, s]))
    return keras.Model(inputs, head(x))


def concat_model():
    inputs = keras.Input((8, 8, 3))
    a = conv_bn(inputs, 6, "a")
    b = conv_bn(inputs, 4, "b", kernel=1)
    x = layers.Concatenate()([a, b])
    x = layers.BatchNormalization()(x)
    x = conv_bn(x, 8, "c")
    return keras.Model(inputs, head(x))


def squeeze_excite_model():
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 8, "a")
    s = layers.GlobalAveragePooling2D()(x)
    s = layers.Reshape((1, 1, 8))(s)
    s = layers.Conv2D(4, 1, activation="relu")(s)
    s = layers.Conv2D(8, 1, activation="sigmoid")(s)
    x = layers.Multiply()([x, s])
    x = conv_bn(x, 8, "b")
    return keras.Model(inputs, head(x))


def depthwise_separable_model():
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 8, "a", kernel=1)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(8, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, head(x))


def padding_pooling_model():
    inputs = keras.Input((9, 9, 3))
    x = conv_bn(inputs, 8, "a")
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(8, 3)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ELU()(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, layers.Dense(3)(x))


def nested_model():
    block = keras.Sequential(
        [
            keras.Input((8, 8, 8)),
            layers.Conv2D(8, 3, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
        ],
        name="seq_block",
    )
    inner_in = keras.Input((8, 8, 8))
    inner = keras.Model(inner_in, conv_bn(inner_in, 8, "inner"), name="func_block")
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 8, "stem")
    x = block(x)
    x = inner(x)
    return keras.Model(inputs, head(x))


def shared_layer_model():
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, 8, "a")
    conv = layers.Conv2D(8, 3, padding="same", name="shared")
    y1 = layers.ReLU()(layers.BatchNormalization()(conv(x)))
    y2 = layers.ReLU()(layers.BatchNormalization()(conv(y1)))
    return keras.Model(inputs, head(y2))


def raw_ops_model():
    # MobileNetV3's hard-swish written with keras.ops on KerasTensors.
    inputs = keras.Input((8, 8, 3))
    x = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(inputs))
    gate = layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = layers.Multiply()([x, gate])
    x = conv_bn(x, 8, "b")
    return keras.Model(inputs, head(x))
