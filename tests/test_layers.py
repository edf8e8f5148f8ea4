"""Tests for kerasreg.layers: DropConnect and weight noise."""

import keras
import numpy as np
import pytest
from keras.src import testing

from kerasreg import layers as L
from kerasreg.testing import assert_roundtrip


class LayerHarnessTest(testing.TestCase):
    """Keras's own layer harness: shapes, weights, training, serialization."""

    def test_dropconnect_dense(self):
        self.run_layer_test(
            L.DropConnectDense,
            init_kwargs={"units": 3, "rate": 0.5, "seed": 1},
            input_shape=(2, 4),
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=2,
            expected_num_seed_generators=1,
            expected_num_losses=0,
        )

    def test_dropconnect_conv2d(self):
        self.run_layer_test(
            L.DropConnectConv2D,
            init_kwargs={"filters": 2, "kernel_size": 3, "rate": 0.3, "seed": 1},
            input_shape=(2, 5, 5, 1),
            expected_output_shape=(2, 3, 3, 2),
            expected_num_trainable_weights=2,
            expected_num_seed_generators=1,
            expected_num_losses=0,
        )

    def test_weight_noise(self):
        self.run_layer_test(
            L.WeightNoise,
            init_kwargs={"layer": keras.layers.Dense(3), "stddev": 0.1, "seed": 1},
            input_shape=(2, 4),
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=2,
            expected_num_seed_generators=1,
            expected_num_losses=0,
        )


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.DropConnectDense(3, rate=0.5, seed=1),
        lambda: L.WeightNoise(keras.layers.Dense(3), stddev=0.2, seed=1),
    ],
)
def test_dense_noise_trains_with_fresh_masks_and_infers_plain(layer):
    layer = layer()
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    first = layer(x, training=True).numpy()
    second = layer(x, training=True).numpy()
    inference = layer(x, training=False).numpy()
    inner = getattr(layer, "layer", layer)
    plain = x @ inner.kernel.numpy() + inner.bias.numpy()
    np.testing.assert_allclose(inference, plain, atol=1e-5)
    assert not np.allclose(first, second)  # a fresh draw each step
    assert not np.allclose(first, plain)


def test_dropconnect_masks_weights_not_units():
    layer = L.DropConnectDense(64, rate=0.5, seed=3, use_bias=False)
    x = np.eye(32, dtype="float32")  # row i of the output reads kernel row i
    out = layer(x, training=True).numpy()
    kernel = layer.kernel.numpy()
    kept = out != 0.0
    # kept weights are scaled by 1 / (1 - rate), the rest are exactly 0
    np.testing.assert_allclose(out[kept], 2.0 * kernel[kept], rtol=1e-5)
    assert 0.4 < 1.0 - kept.mean() < 0.6
    # whole units are not dropped: every output column keeps some weights
    assert kept.any(axis=0).all()


def test_dropconnect_conv2d_inference_is_plain_conv():
    layer = L.DropConnectConv2D(4, 3, rate=0.4, padding="same", seed=0)
    x = np.random.default_rng(1).random((2, 6, 6, 3)).astype("float32")
    layer.build(x.shape)
    plain = keras.layers.Conv2D(4, 3, padding="same")
    plain.build(x.shape)
    plain.set_weights([layer.kernel.numpy(), layer.bias.numpy()])
    np.testing.assert_allclose(layer(x).numpy(), plain(x).numpy(), atol=1e-5)
    assert not np.allclose(layer(x, training=True).numpy(), plain(x).numpy())


def test_noise_layers_learn_in_fit(digits):
    x = digits.x_train.reshape(len(digits.x_train), -1)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            L.DropConnectDense(32, rate=0.3, activation="relu", seed=0),
            L.WeightNoise(keras.layers.Dense(10), stddev=0.01, seed=0),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, digits.y_train, epochs=3, batch_size=64, verbose=0)
    logits = model.predict(digits.x_test.reshape(-1, 64), verbose=0)
    assert np.mean(logits.argmax(-1) == digits.y_test) > 0.85


def test_roundtrips():
    x = np.random.default_rng(0).random((2, 6, 6, 2)).astype("float32")
    assert_roundtrip(L.DropConnectConv2D(3, 3, rate=0.2, seed=4), x)
    flat = np.ones((2, 5), "float32")
    assert_roundtrip(L.DropConnectDense(3, rate=0.1), flat)
    assert_roundtrip(L.WeightNoise(keras.layers.Dense(2), stddev=0.3), flat)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.DropConnectDense(3, rate=-0.1), r"0 <= rate < 1.*rate=-0.1"),
        (lambda: L.DropConnectConv2D(3, 3, rate=1.0), r"rate=1.0"),
        (lambda: L.WeightNoise(keras.layers.Dense(3), stddev=-1), "stddev=-1"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_weight_noise_needs_a_kernel():
    with pytest.raises(ValueError, match="layer=ReLU"):
        L.WeightNoise(keras.layers.ReLU())(np.ones((1, 2)))
