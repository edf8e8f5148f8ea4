"""Simard et al.'s elastic distortion as a Keras preprocessing layer.

Keras has `keras.layers.RandomElasticTransform`, and `kerasreg.augment`
first used it. For handwriting it falls short of Simard's recipe in three
ways (Keras 3.15):

- its smoothing width and displacement scale are both tied to one `scale`
  in `[0, 1]` and to the image size (`sigma = 0.05 * scale * min(h, w)`,
  `alpha = 0.1 * scale * max(h, w)`): on 28x28 MNIST `sigma` is at most 1.4
  pixels, where Simard used 4;
- below `sigma = 1` its blur kernel is one pixel wide, so the field is not
  smoothed at all, and every pixel moves on its own;
- the horizontal and vertical fields are drawn with the same seed, so they
  are equal, and every pixel moves along the diagonal.

`ElasticDistortion(alpha, sigma)` is the recipe as published: two
independent fields of uniform noise in `[-1, 1]`, each smoothed by a
Gaussian of standard deviation `sigma` pixels and scaled by `alpha` pixels,
then bilinear resampling.
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["ElasticDistortion"]


@keras.saving.register_keras_serializable(package="kerasreg")
class ElasticDistortion(keras.layers.Layer):
    """Random elastic distortion of images (Simard et al. 2003).

    Each image of a batch gets its own displacement field: uniform noise in
    `[-1, 1]` for each axis, smoothed by a Gaussian of standard deviation
    `sigma` and multiplied by `alpha`, both in pixels; the image is then
    resampled bilinearly at the displaced positions, with `fill_value`
    outside it. Identity at inference. Runs in a `tf.data` map on batches
    `(B, H, W, C)` or on single images `(H, W, C)`.

    Args:
        alpha: displacement scale in pixels. Defaults to `34.0`, Simard's
            value for 28x28 digits.
        sigma: standard deviation of the smoothing, in pixels. Defaults to
            `4.0`, Simard's.
        fill_value: the value of pixels that come from outside the image.
            Defaults to `0.0`.
        seed: seed of the fields. Defaults to `None`.
        **kwargs: passed to `keras.layers.Layer`.

    Raises:
        ValueError: if `alpha` is negative or `sigma` is not positive.

    Example:

    >>> layer = ElasticDistortion(alpha=34.0, sigma=4.0, seed=0)
    >>> images = np.random.default_rng(0).uniform(size=(2, 28, 28, 1))
    >>> moved = layer(images.astype("float32"), training=True)
    >>> tuple(moved.shape), bool(np.allclose(layer(images), images))
    ((2, 28, 28, 1), True)

    Reference:
        Simard, Steinkraus and Platt, "Best Practices for Convolutional
        Neural Networks Applied to Visual Document Analysis", ICDAR 2003.
    """

    def __init__(self, alpha=34.0, sigma=4.0, fill_value=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if float(alpha) < 0:
            raise ValueError(f"Expected alpha >= 0. Received: alpha={alpha}")
        if float(sigma) <= 0:
            raise ValueError(f"Expected sigma > 0. Received: sigma={sigma}")
        self.alpha = float(alpha)
        self.sigma = float(sigma)
        self.fill_value = float(fill_value)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = False

    def call(self, inputs, training=None):
        if not training or self.alpha == 0.0:
            return inputs
        images = ops.convert_to_tensor(inputs, self.compute_dtype)
        single = len(images.shape) == 3
        if single:
            images = images[None]
        moved = self._distort(images)
        return moved[0] if single else moved

    def _distort(self, images):
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        fields = keras.random.uniform(
            (batch, height, width, 2), -1.0, 1.0, seed=self.seed_generator
        )
        kernel = ops.tile(self._gaussian()[:, :, None, None], (1, 1, 2, 1))
        fields = self.alpha * ops.depthwise_conv(fields, kernel, padding="same")
        rows = ops.arange(height, dtype=self.compute_dtype)[None, :, None]
        cols = ops.arange(width, dtype=self.compute_dtype)[None, None, :]
        return self._bilinear(images, rows + fields[..., 0], cols + fields[..., 1])

    def _bilinear(self, images, y, x):
        """`images` sampled at rows `y` and columns `x`, each `(B, H, W)`."""
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        flat = ops.reshape(images, (-1, shape[3]))
        base = ops.arange(batch)[:, None, None] * height * width
        y0, x0 = ops.floor(y), ops.floor(x)
        out = 0.0
        for dy in (0, 1):
            for dx in (0, 1):
                yi, xi = y0 + dy, x0 + dx
                weight = (1 - ops.abs(y - yi)) * (1 - ops.abs(x - xi))
                inside = (yi >= 0) & (yi < ops.cast(height, yi.dtype))
                inside = inside & (xi >= 0) & (xi < ops.cast(width, xi.dtype))
                yi = ops.clip(ops.cast(yi, "int32"), 0, height - 1)
                xi = ops.clip(ops.cast(xi, "int32"), 0, width - 1)
                pixels = ops.take(flat, base + yi * width + xi, axis=0)
                pixels = ops.where(inside[..., None], pixels, self.fill_value)
                out = out + weight[..., None] * pixels
        return ops.cast(out, images.dtype)

    def _gaussian(self):
        """The normalized 2-D Gaussian kernel, `6 sigma + 1` wide (odd)."""
        radius = max(1, math.ceil(3 * self.sigma))
        taps = ops.arange(-radius, radius + 1, dtype=self.compute_dtype)
        line = ops.exp(-0.5 * (taps / self.sigma) ** 2)
        line = line / ops.sum(line)
        return line[:, None] * line[None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "sigma": self.sigma,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }
