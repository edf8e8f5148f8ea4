"""Tests for kerasreg.models.denoising_autoencoder."""

import keras
import numpy as np
import pytest

from kerasreg.models import denoising_autoencoder
from kerasreg.testing import assert_roundtrip


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def _images(n, seed):
    """Blurry blobs in [0, 1] on 8x8: structure a denoiser can learn."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(8), np.arange(8), indexing="ij"), -1)
    centres = rng.uniform(1, 7, size=(n, 1, 1, 2))
    d2 = ((grid[None] - centres) ** 2).sum(-1)
    return np.exp(-d2 / 4.0).reshape(n, 64).astype("float32")


def test_shapes_encoder_trunk_and_corruption_only_in_training():
    dae = denoising_autoencoder((28, 28, 1), hidden=(64, 16), seed=0)
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    assert dae(x).shape == (2, 28, 28, 1)
    encoder = dae.get_layer("encoder")
    assert encoder.output.shape == (None, 16)
    assert [layer.units for layer in dae.get_layer("decoder").layers[1:]] == [64]
    np.testing.assert_allclose(dae(x), dae(x))  # inference: no noise
    assert not np.allclose(dae(x, training=True), dae(x))


def test_it_learns_to_denoise(tmp_path):
    keras.utils.set_random_seed(0)
    clean = _images(2048, seed=0)
    dae = denoising_autoencoder((64,), hidden=(128,), amount=0.3, seed=0)
    dae.compile(keras.optimizers.Adam(3e-3), "mse")
    dae.fit(clean, clean, epochs=30, batch_size=64, verbose=0)
    test = _images(512, seed=1)
    noisy = test + np.random.default_rng(2).normal(0, 0.3, test.shape).astype("float32")
    gain = _psnr(dae.predict(noisy, verbose=0), test) - _psnr(noisy, test)
    assert gain > 6.0, gain
    restored = assert_roundtrip(dae, noisy[:8], atol=1e-5)
    assert restored.get_layer("corruption").stddev == 0.3


@pytest.mark.parametrize("kind", ["masking", "salt_and_pepper", None])
def test_other_corruptions(kind):
    dae = denoising_autoencoder((10,), hidden=(4,), noise=kind, amount=0.2, seed=0)
    names = [layer.name for layer in dae.layers]
    assert ("corruption" in names) == (kind is not None)


def test_bad_hidden_names_the_argument():
    with pytest.raises(ValueError, match=r"Received: hidden=\(\)"):
        denoising_autoencoder((10,), hidden=())
    with pytest.raises(ValueError, match=r"Received: hidden=\(8, 0\)"):
        denoising_autoencoder((10,), hidden=(8, 0))
