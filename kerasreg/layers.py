"""Weight-level noise layers: DropConnect and weight noise.

Keras already has the noise that acts on activations (`Dropout`,
`GaussianNoise`, `GaussianDropout`). This module adds what acts on the
*weights*. `norm_layer` and `convert_normalization` live in
`kerasreg.normalization` and are re-exported here, where they were first
documented.

At inference every layer here computes exactly the plain layer it extends.
"""

from __future__ import annotations

import keras
from keras import ops

from kerasreg._layer_tree import replace_layers
from kerasreg.normalization import NORM_KINDS, convert_normalization, norm_layer

__all__ = [
    "DropConnectDense",
    "DropConnectConv2D",
    "WeightNoise",
    "norm_layer",
    "convert_normalization",
    "replace_layers",
    "NORM_KINDS",
]


def _check_rate(rate, name="rate"):
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"Expected 0 <= {name} < 1. Received: {name}={rate}")
    return float(rate)


def _call_with_kernel(layer, call, inputs, kernel):
    """Run `call(inputs)` with `layer.kernel` read as the tensor `kernel`."""
    with keras.StatelessScope(state_mapping=[(layer.kernel, kernel)]):
        return call(inputs)


class _DropConnect:
    """The DropConnect mechanism, mixed into a layer that has a `kernel`.

    A fresh Bernoulli mask over the kernel each training step, the kept
    weights scaled by `1 / (1 - rate)`; the plain layer at inference.
    """

    def _init_dropconnect(self, rate, seed):
        self.rate = _check_rate(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        plain = super().call
        if not training or self.rate == 0.0:
            return plain(inputs)
        kernel = keras.random.dropout(self.kernel, self.rate, seed=self.seed_generator)
        return _call_with_kernel(self, plain, inputs, kernel)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasreg")
class DropConnectDense(_DropConnect, keras.layers.Dense):
    """A `Dense` layer that drops kernel weights at train time (DropConnect).

    Dropout zeroes activations; DropConnect zeroes individual weights: each
    training step draws a fresh Bernoulli mask over the kernel, keeps each
    weight with probability `1 - rate` and scales the kept ones by
    `1 / (1 - rate)`, so at inference the layer computes the plain `Dense`
    (the regularization notes, ドロップコネクト). The bias is not dropped.

    Args:
        units: output width.
        rate: fraction of kernel weights dropped per step, in `[0, 1)`.
            Defaults to `0.5`.
        seed: seed of the mask stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Dense`.

    Raises:
        ValueError: if `rate` is outside `[0, 1)`.

    Example:

    >>> layer = DropConnectDense(4, rate=0.3, seed=0)
    >>> tuple(layer(np.ones((2, 3)), training=True).shape)
    (2, 4)

    Reference:
        Wan et al., "Regularization of Neural Networks using DropConnect",
        ICML 2013.
    """

    def __init__(self, units, rate=0.5, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self._init_dropconnect(rate, seed)


@keras.saving.register_keras_serializable(package="kerasreg")
class DropConnectConv2D(_DropConnect, keras.layers.Conv2D):
    """A `Conv2D` layer that drops kernel weights at train time (DropConnect).

    Each training step keeps every kernel weight with probability
    `1 - rate` and scales the kept ones by `1 / (1 - rate)`; inference is the
    plain `Conv2D`. See `DropConnectDense`.

    Args:
        filters: output channels.
        kernel_size: int or pair.
        rate: fraction of kernel weights dropped per step, in `[0, 1)`.
            Defaults to `0.5`.
        seed: seed of the mask stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Conv2D`.

    Raises:
        ValueError: if `rate` is outside `[0, 1)`.

    Example:

    >>> layer = DropConnectConv2D(4, 3, rate=0.2, padding="same")
    >>> tuple(layer(np.ones((1, 8, 8, 1))).shape)
    (1, 8, 8, 4)

    Reference:
        Wan et al., "Regularization of Neural Networks using DropConnect",
        ICML 2013.
    """

    def __init__(self, filters, kernel_size, rate=0.5, seed=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_dropconnect(rate, seed)


@keras.saving.register_keras_serializable(package="kerasreg")
class WeightNoise(keras.layers.Wrapper):
    """Add Gaussian noise to the kernel of the wrapped layer at train time.

    The regularization notes (中間層の重みにノイズを入れる): each training step adds fresh
    `N(0, stddev^2)` noise to the wrapped layer's `kernel`; gradients flow to
    the clean kernel. At inference the wrapped layer runs unchanged. Works
    for any layer with a `kernel` variable (`Dense`, `Conv1D/2D/3D`,
    `DropConnectDense`, ...). Noise on inputs and hidden units is built in:
    `keras.layers.GaussianNoise` and `keras.layers.GaussianDropout`.

    Args:
        layer: the layer to wrap; it must have a `kernel`.
        stddev: standard deviation of the additive noise, `>= 0`. Defaults
            to `0.01`.
        seed: seed of the noise stream. Defaults to `None`.
        **kwargs: passed to `keras.layers.Wrapper`.

    Raises:
        ValueError: if `stddev` is negative.

    Example:

    >>> layer = WeightNoise(keras.layers.Dense(4), stddev=0.05, seed=0)
    >>> tuple(layer(np.ones((2, 3)), training=True).shape)
    (2, 4)

    Reference:
        Graves, "Practical Variational Inference for Neural Networks",
        NeurIPS 2011.
    """

    def __init__(self, layer, stddev=0.01, seed=None, **kwargs):
        super().__init__(layer, **kwargs)
        if float(stddev) < 0:
            raise ValueError(f"Expected stddev >= 0. Received: stddev={stddev}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        if getattr(self.layer, "kernel", None) is None:
            raise ValueError(
                "WeightNoise needs a layer with a `kernel`. Received: "
                f"layer={self.layer.__class__.__name__}"
            )
        self.built = True

    def call(self, inputs, training=None):
        if not training or self.stddev == 0.0:
            outputs = self.layer(inputs)
        else:
            kernel = self.layer.kernel
            noisy = kernel + keras.random.normal(
                ops.shape(kernel),
                stddev=self.stddev,
                dtype=kernel.dtype,
                seed=self.seed_generator,
            )
            outputs = _call_with_kernel(self.layer, self.layer, inputs, noisy)
        # the wrapped layer keeps its own dtype policy; answer in ours
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
