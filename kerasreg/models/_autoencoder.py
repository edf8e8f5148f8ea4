"""The denoising autoencoder: corrupt the input, reconstruct the clean one."""

from __future__ import annotations

import math

import keras

from kerasreg.noise import noise_layer


def denoising_autoencoder(
    input_shape,
    hidden=(1000,),
    noise="gaussian",
    amount=0.5,
    output_activation="sigmoid",
    seed=None,
    name="denoising_autoencoder",
):
    """A fully connected denoising autoencoder with its encoder as a trunk.

    The regularization notes (ノイズの注入) and Vincent et al.: the input is
    corrupted by `noise` at train time only, encoded by ReLU `Dense` layers
    of widths `hidden`, and decoded back to `input_shape`. Train it with
    `model.fit(x, x)` on clean images, so that the target is always the
    clean input; at inference the corruption is off, and a noisy image in
    gives its reconstruction out.

    The encoder is a nested model named `"encoder"`: `dae.get_layer("encoder")`
    is a pre-trained trunk for a classifier (Lee 2013's DAE pre-training),
    for example `keras.Sequential([encoder, keras.layers.Dense(10)])`.

    Args:
        input_shape: shape of one input, without the batch axis, e.g.
            `(784,)` or `(28, 28, 1)`; inputs of more than one axis are
            flattened in the encoder and reshaped back in the decoder.
        hidden: widths of the encoder's layers; the decoder mirrors all but
            the last. Defaults to `(1000,)`.
        noise: the corruption, one of `kerasreg.noise.NOISE_KINDS`
            (`"gaussian"`, `"masking"`, `"salt_and_pepper"`), or `None` for a
            plain autoencoder. Defaults to `"gaussian"`.
        amount: the corruption's standard deviation (Gaussian) or fraction
            of the elements (masking, salt-and-pepper). Defaults to `0.5`.
        output_activation: activation of the reconstruction; `"sigmoid"`
            for inputs in `[0, 1]`, `None` for unbounded ones. Defaults to
            `"sigmoid"`.
        seed: seed of the weights and of the noise. Defaults to `None`.
        name: the model's name. Defaults to `"denoising_autoencoder"`.

    Returns:
        A `keras.Model` from `input_shape` to `input_shape`.

    Raises:
        ValueError: for an empty `hidden`, a width below 1, or a bad `noise`
            or `amount`.

    Example:

    >>> dae = denoising_autoencoder((64,), hidden=(32,), amount=0.3, seed=0)
    >>> dae.compile("adam", "mse")
    >>> x = np.random.default_rng(0).uniform(size=(128, 64)).astype("float32")
    >>> _ = dae.fit(x, x, epochs=1, verbose=0)
    >>> dae.get_layer("encoder").output_shape
    (None, 32)

    Reference:
        Vincent et al., "Extracting and Composing Robust Features with
        Denoising Autoencoders", ICML 2008; Lee, "Pseudo-Label", ICML 2013
        workshop (DAE pre-training of the pseudo-labelled network).
    """
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1:
        raise ValueError(
            f"Expected hidden to be a non-empty tuple of widths >= 1. "
            f"Received: hidden={hidden}"
        )
    input_shape = tuple(input_shape)
    size = math.prod(input_shape)
    init = keras.initializers.HeNormal(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    if noise is not None:
        x = noise_layer(noise, amount, seed=seed, name="corruption")(x)
    encoder = _mlp(input_shape, hidden, init, "encoder", flatten=True)
    decoder = _mlp((hidden[-1],), hidden[-2::-1], init, "decoder")
    x = decoder(encoder(x))
    x = keras.layers.Dense(
        size, activation=output_activation, kernel_initializer=init, name="output"
    )(x)
    if len(input_shape) > 1:
        x = keras.layers.Reshape(input_shape)(x)
    return keras.Model(inputs, x, name=name)


def _mlp(input_shape, widths, init, name, flatten=False):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs) if flatten and len(input_shape) > 1 else inputs
    for i, width in enumerate(widths):
        x = keras.layers.Dense(
            width, activation="relu", kernel_initializer=init, name=f"{name}_{i}"
        )(x)
    return keras.Model(inputs, x, name=name)
