"""shrink(): exactness on every supported layer kind and topology."""

import keras
import numpy as np
import pytest
from keras import layers

from kerasreg import models, report
from kerasreg.compression.surgery import shrink
from tests.compression.conftest import (
    concat_model,
    conv_bn,
    depthwise_separable_model,
    head,
    nested_model,
    padding_pooling_model,
    raw_ops_model,
    residual_model,
    sequential_model,
    shared_layer_model,
    squeeze_excite_model,
)
from tests.compression.surgery.conftest import kill_channels

RNG = np.random.default_rng(0)


def _assert_same_function(model, small, shape, batch=3):
    x = RNG.normal(size=(batch, *shape)).astype("float32")
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(small(x, training=False))
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a))


CASES = {
    "raw_ops_hard_swish": (raw_ops_model, (8, 8, 3)),
    "sequential": (sequential_model, (8, 8, 3)),
    "residual": (residual_model, (8, 8, 3)),
    "concat": (concat_model, (8, 8, 3)),
    "squeeze_excite": (squeeze_excite_model, (8, 8, 3)),
    "depthwise_separable": (depthwise_separable_model, (8, 8, 3)),
    "padding_pooling_flatten": (padding_pooling_model, (9, 9, 3)),
    "nested": (nested_model, (8, 8, 3)),
    "shared_layer": (shared_layer_model, (8, 8, 3)),
    "kerasreg_cnn": (lambda: models.cnn((8, 8, 1), 10), (8, 8, 1)),
    "kerasreg_vgg": (lambda: models.vgg((8, 8, 1), 10, widths=(8, 16)), (8, 8, 1)),
    "kerasreg_resnet": (lambda: models.resnet((8, 8, 1), 10), (8, 8, 1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_shrink_is_exact_and_smaller(case):
    build, shape = CASES[case]
    model = build()
    kill_channels(model, 0.5, seed=len(case))
    before = [w.copy() for w in model.get_weights()]
    small = shrink(model)
    _assert_same_function(model, small, shape)
    assert report.count_params(small) < report.count_params(model)
    # The input model is untouched.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_cnn_channels_and_flops_drop_by_the_dead_count():
    model = models.cnn((8, 8, 1), 10, filters=(16, 32), dense_units=16)
    bn = model.get_layer("block1_bn")
    gamma = np.ones(16, "float32")
    gamma[:6] = 0.0
    bn.gamma.assign(gamma)
    bn.beta.assign(-np.ones(16, "float32"))  # ReLU(β) = 0: plain removal
    small = shrink(model)
    assert small.get_layer("block1_conv").filters == 10
    assert small.get_layer("block2_conv").kernel.shape == (3, 3, 10, 32)
    assert report.count_flops(small) < report.count_flops(model)
    _assert_same_function(model, small, (8, 8, 1))


def test_positive_constants_merge_into_one_channel():
    # β > 0 after ReLU is a nonzero constant; the next 3x3 "same" conv sees
    # zero padding at the borders, so the constants merge into one channel.
    inputs = keras.Input((6, 6, 2))
    x = conv_bn(inputs, 8, "a")
    x = layers.Conv2D(4, 3, padding="same", name="next")(x)
    model = keras.Model(inputs, x)
    bn = model.get_layer("a_bn")
    bn.gamma.assign(np.r_[np.zeros(5), np.ones(3)].astype("float32"))
    bn.beta.assign(np.r_[np.full(5, 0.7), np.zeros(3)].astype("float32"))
    small = shrink(model)
    assert small.get_layer("a_conv").filters == 4  # 3 live + 1 merged constant
    _assert_same_function(model, small, (6, 6, 2))


def test_residual_stream_needs_every_coupled_bn_dead():
    model = residual_model()
    kill_channels(model, 0.0)
    stream = ["stem_bn", "a2_bn"]
    for name in stream:
        gamma = keras.ops.convert_to_numpy(model.get_layer(name).gamma).copy()
        gamma[0] = 0.0
        model.get_layer(name).gamma.assign(gamma)
        beta = keras.ops.convert_to_numpy(model.get_layer(name).beta).copy()
        beta[0] = -1.0  # ReLU(β) = 0 along the stream: nothing to merge
        model.get_layer(name).beta.assign(beta)
    # Channel 0 is dead in both BNs of the first stream: removed.
    assert shrink(model).get_layer("stem_conv").filters == 7
    gamma = keras.ops.convert_to_numpy(model.get_layer(stream[1]).gamma).copy()
    gamma[0] = 1.0
    model.get_layer(stream[1]).gamma.assign(gamma)
    # Alive in one of them: kept.
    small = shrink(model)
    assert small.get_layer("stem_conv").filters == 8
    _assert_same_function(model, small, (8, 8, 3))


def test_channel_read_before_its_bn_is_kept():
    inputs = keras.Input((6, 6, 2))
    c = layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(c))
    x = layers.Concatenate()([layers.Conv2D(3, 1)(x), layers.Conv2D(3, 1)(c)])
    model = keras.Model(inputs, x)
    kill_channels(model, 1.0)
    small = shrink(model)
    assert report.count_params(small) == report.count_params(model)
    _assert_same_function(model, small, (6, 6, 2))


def test_unsupported_layer_is_named_and_strict_false_leaves_it():
    inputs = keras.Input((6, 6, 2))
    x = conv_bn(inputs, 4, "a")
    x = layers.Permute((2, 1, 3), name="swap")(x)
    model = keras.Model(inputs, head(layers.Conv2D(4, 3)(x)))
    kill_channels(model, 0.5)
    with pytest.raises(ValueError, match=r"Cannot shrink through layer 'swap'"):
        shrink(model)
    with pytest.warns(UserWarning, match="swap"):
        small = shrink(model, strict=False)
    assert small.get_layer("a_conv").filters == 4
    _assert_same_function(model, small, (6, 6, 2))


def test_threshold_below_zero_is_rejected():
    with pytest.raises(ValueError, match=r"threshold >= 0. Received: threshold=-0.1"):
        shrink(models.cnn((8, 8, 1), 10), threshold=-0.1)


def test_threshold_removes_small_gammas():
    model = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=0)
    bn = model.get_layer("block1_bn")
    bn.gamma.assign(np.r_[np.full(3, 1e-3), np.ones(5)].astype("float32"))
    bn.beta.assign(np.full(8, -1.0, "float32"))
    assert shrink(model, threshold=0.0).get_layer("block1_conv").filters == 8
    assert shrink(model, threshold=1e-2).get_layer("block1_conv").filters == 5


def test_subclassed_model_is_rejected():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="not a built functional or Sequential"):
        shrink(net)


@pytest.mark.parametrize("round_to", [4, 8])
def test_round_to_keeps_multiples_and_stays_exact(round_to):
    model = models.resnet((8, 8, 1), 10)
    kill_channels(model, 0.7, seed=3)
    small = shrink(model, round_to=round_to)
    for layer in small.layers:
        if isinstance(layer, layers.Conv2D) and layer.name in [
            la.name for la in model.layers
        ]:
            original = model.get_layer(layer.name).filters
            assert layer.filters % round_to == 0 or layer.filters == original
    _assert_same_function(model, small, (8, 8, 1))
    assert report.count_params(shrink(model)) <= report.count_params(small)
    with pytest.raises(
        ValueError, match=r"round_to to be an int >= 1. Received: round_to=0"
    ):
        shrink(model, round_to=0)
