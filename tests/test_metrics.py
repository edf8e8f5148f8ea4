"""kerasreg.report: counts, sizes, latency, tables and plots."""

import keras
import numpy as np
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


def test_format_table():
    text = report.format_table(
        [
            {"stage": "baseline", "acc": 0.98765, "params": 1200},
            {"stage": "slim", "acc": 0.5},
        ]
    )
    assert text.splitlines() == [
        "stage     acc     params",
        "--------  ------  ------",
        "baseline  0.9877  1200",
        "slim      0.5",
    ]
    assert report.format_table([]) == ""


def test_plot_curves_writes_png(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    path = tmp_path / "curves.png"
    fig = report.plot_curves(history, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [1.1, 0.7])
