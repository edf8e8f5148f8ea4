"""Tests for kerasreg.noise: the input corruptions of a denoising autoencoder."""

import keras
import numpy as np
import pytest

from kerasreg import noise
from kerasreg.testing import assert_roundtrip


def _corrupt(layer, x):
    return keras.ops.convert_to_numpy(layer(x, training=True))


def test_masking_zeroes_its_fraction_and_leaves_the_rest_unscaled():
    x = np.full((4, 5000), 0.7, "float32")
    y = _corrupt(noise.MaskingNoise(0.3, seed=0), x)
    zeroed = y == 0.0
    assert abs(zeroed.mean() - 0.3) < 0.01
    np.testing.assert_array_equal(
        y[~zeroed], np.float32(0.7)
    )  # no 1 / (1 - rate) rescale


def test_salt_and_pepper_replaces_its_fraction_half_each_way():
    x = np.full((4, 5000), 0.5, "float32")
    y = _corrupt(noise.SaltAndPepperNoise(0.2, seed=0), x)
    assert abs((y != 0.5).mean() - 0.2) < 0.01
    assert abs((y == 0.0).mean() - 0.1) < 0.01
    assert abs((y == 1.0).mean() - 0.1) < 0.01
    assert set(np.unique(y)) == {0.0, 0.5, 1.0}


@pytest.mark.parametrize("kind", noise.NOISE_KINDS)
def test_every_kind_is_the_identity_at_inference(kind):
    x = np.random.default_rng(0).uniform(size=(3, 50)).astype("float32")
    layer = noise.noise_layer(kind, 0.4, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    assert not np.array_equal(_corrupt(layer, x), x)


def test_gaussian_kind_is_keras_gaussian_noise_with_its_stddev():
    layer = noise.noise_layer("gaussian", 0.5, seed=0)
    assert isinstance(layer, keras.layers.GaussianNoise)
    y = _corrupt(layer, np.zeros((2, 20000), "float32"))
    assert abs(float(y.std()) - 0.5) < 0.01


def test_a_seed_reproduces_the_corruption():
    x = np.ones((2, 100), "float32")
    a = _corrupt(noise.MaskingNoise(0.5, seed=3), x)
    b = _corrupt(noise.MaskingNoise(0.5, seed=3), x)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "layer", [noise.MaskingNoise(0.2, seed=1), noise.SaltAndPepperNoise(0.1, 0.0, 2.0)]
)
def test_corruptions_round_trip(layer):
    assert_roundtrip(layer, np.ones((3, 6), "float32"))


def test_bad_kind_and_amount_name_the_argument():
    with pytest.raises(
        ValueError,
        match=r"Expected kind in \('gaussian', 'masking', 'salt_and_pepper'\). "
        r"Received: kind='speckle'",
    ):
        noise.noise_layer("speckle", 0.1)
    with pytest.raises(
        ValueError, match=r"Expected 0 <= rate <= 1. Received: rate=1.5"
    ):
        noise.noise_layer("masking", 1.5)
    with pytest.raises(ValueError, match="Expected amount >= 0. Received: amount=-1"):
        noise.noise_layer("gaussian", -1)
