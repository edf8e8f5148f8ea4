"""kerasreg.metrics (read through kerasreg.report): counts, sizes, latency."""

import keras
import pytest

from kerasreg import models, report


def test_count_flops_two_layer_model_by_hand():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, padding="valid")(inputs)  # 4x4 output
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    conv = 4 * 4 * 4 * (3 * 3 * 2)  # positions x filters x kernel volume
    dense = (4 * 4 * 4) * 5
    assert report.count_flops(model) == conv + dense == 1472


def test_count_flops_depthwise_separable_grouped_and_nested():
    inner = keras.Sequential(
        [keras.Input((4, 4, 4)), keras.layers.Conv2D(4, 1, groups=2)]
    )
    inputs = keras.Input((4, 4, 4))
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    x = keras.layers.SeparableConv2D(4, 3, padding="same")(x)
    x = inner(x)
    model = keras.Model(inputs, x)
    depthwise = 16 * 4 * 2 * 9
    separable = 16 * 8 * 9 + 16 * 8 * 4
    grouped = 16 * 4 * (1 * 1 * 2)
    assert report.count_flops(model) == depthwise + separable + grouped


def test_count_params_matches_keras():
    model = models.cnn((8, 8, 1), 10)
    assert report.count_params(model) == model.count_params()
    assert report.count_params(model, trainable_only=True) < model.count_params()


def test_saved_size_grows_with_parameters():
    small = report.saved_size(models.cnn((8, 8, 1), 10, filters=(4,), dense_units=0))
    large = report.saved_size(models.cnn((8, 8, 1), 10))
    assert 0 < small < large
    assert large > 4 * models.cnn((8, 8, 1), 10).count_params()  # float32 weights


def test_measure_latency_positive_and_scales_with_batch():
    model = models.cnn((8, 8, 1), 10)
    one = report.measure_latency(model, batch_size=1, repeats=10)
    big = report.measure_latency(model, batch_size=256, repeats=10)
    assert 0 < one < 1.0
    assert big > one
    with pytest.raises(ValueError, match=r"Expected repeats >= 1. Received: repeats=0"):
        report.measure_latency(model, repeats=0)
