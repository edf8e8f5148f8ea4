"""Input corruption for denoising autoencoders: Gaussian, masking, salt-and-pepper.

The regularization notes (ノイズの注入) add noise to the inputs so that a
network learns to undo it. Keras has the Gaussian kind built in
(`keras.layers.GaussianNoise`); `Dropout` zeroes inputs but rescales the
survivors by `1 / (1 - rate)`, which a denoising autoencoder must not do.
This module adds the two corruptions of Vincent et al. that Keras lacks and
one factory, `noise_layer(kind, amount)`, over all three.

Like Keras's noise layers, each corrupts only when called with
`training=True` and is the identity at inference. To corrupt test images
for an evaluation, call the layer on them with `training=True`.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["NOISE_KINDS", "MaskingNoise", "SaltAndPepperNoise", "noise_layer"]

NOISE_KINDS = ("gaussian", "masking", "salt_and_pepper")


def _check_fraction(rate):
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"Expected 0 <= rate <= 1. Received: rate={rate}")
    return float(rate)


class _Corruption(keras.layers.Layer):
    """A per-element corruption drawn afresh each call; identity at inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_fraction(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return self._corrupt(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    def _hit(self, inputs):
        """A boolean tensor: which elements are corrupted, each with `rate`."""
        draws = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        return draws < self.rate


@keras.saving.register_keras_serializable(package="kerasreg")
class MaskingNoise(_Corruption):
    """Set a random fraction `rate` of the inputs to 0, with no rescaling.

    Vincent et al.'s masking corruption. Unlike `keras.layers.Dropout`, the
    kept inputs are left as they are, so that the clean image is the target
    a denoising autoencoder reconstructs.

    Args:
        rate: fraction of the elements zeroed, in `[0, 1]`.
        seed: seed of the noise stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Layer`.

    Raises:
        ValueError: if `rate` is outside `[0, 1]`.

    Example:

    >>> x = np.ones((1, 1000), "float32")
    >>> zeroed = MaskingNoise(0.25, seed=0)(x, training=True).numpy() == 0
    >>> bool(0.2 < zeroed.mean() < 0.3)
    True

    Reference:
        Vincent et al., "Extracting and Composing Robust Features with
        Denoising Autoencoders", ICML 2008.
    """

    def _corrupt(self, inputs):
        return ops.where(self._hit(inputs), ops.zeros_like(inputs), inputs)


@keras.saving.register_keras_serializable(package="kerasreg")
class SaltAndPepperNoise(_Corruption):
    """Set a random fraction `rate` of the inputs to `low` or `high`, half each.

    Vincent et al. (2010)'s salt-and-pepper corruption, for inputs in a
    known range such as images scaled to `[0, 1]`.

    Args:
        rate: fraction of the elements replaced, in `[0, 1]`.
        low: the "pepper" value. Defaults to `0.0`.
        high: the "salt" value. Defaults to `1.0`.
        seed: seed of the noise stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Layer`.

    Raises:
        ValueError: if `rate` is outside `[0, 1]`.

    Example:

    >>> x = np.full((1, 1000), 0.5, "float32")
    >>> y = SaltAndPepperNoise(0.2, seed=0)(x, training=True).numpy()
    >>> sorted(set(np.round(y.ravel(), 1).tolist()))
    [0.0, 0.5, 1.0]

    Reference:
        Vincent et al., "Stacked Denoising Autoencoders", JMLR 2010.
    """

    def __init__(self, rate, low=0.0, high=1.0, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.low = float(low)
        self.high = float(high)

    def _corrupt(self, inputs):
        coin = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        salt = ops.where(coin < 0.5, self.low, self.high)
        return ops.where(self._hit(inputs), ops.cast(salt, inputs.dtype), inputs)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


def noise_layer(kind, amount, seed=None, name=None):
    """The input corruption layer of one of `NOISE_KINDS`.

    Args:
        kind: `"gaussian"` (additive, `amount` is the standard deviation;
            `keras.layers.GaussianNoise`), `"masking"` (`MaskingNoise`,
            `amount` is the zeroed fraction) or `"salt_and_pepper"`
            (`SaltAndPepperNoise`, `amount` is the replaced fraction).
        amount: how much noise, as above.
        seed: seed of the noise stream. Defaults to `None`.
        name: the layer's name. Defaults to `None` (Keras's default).

    Returns:
        A layer that corrupts its inputs when called with `training=True`.

    Raises:
        ValueError: if `kind` is not one of `NOISE_KINDS`, or `amount` is
            out of range for it.

    Example:

    >>> noisy = noise_layer("gaussian", 0.5, seed=0)
    >>> x = np.zeros((1, 10000), "float32")
    >>> round(float(np.std(noisy(x, training=True))), 1)
    0.5
    """
    if kind == "gaussian":
        if float(amount) < 0:
            raise ValueError(f"Expected amount >= 0. Received: amount={amount}")
        return keras.layers.GaussianNoise(float(amount), seed=seed, name=name)
    if kind == "masking":
        return MaskingNoise(amount, seed=seed, name=name)
    if kind == "salt_and_pepper":
        return SaltAndPepperNoise(amount, seed=seed, name=name)
    raise ValueError(f"Expected kind in {NOISE_KINDS}. Received: kind={kind!r}")
