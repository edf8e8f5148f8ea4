"""Shared by the pruning tests: a three-Dense MLP, its toy data, a short fit."""

import keras
import numpy as np

from kerasreg import training


def mlp(seed=0, name="mlp"):
    """Dense `hidden` (32), `hidden2` (24) and `out` (4) on 16 inputs, seeded."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dense(24, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(4, name="out")(x)
    return keras.Model(inputs, outputs, name=name)


def toy_data(n=256, seed=0):
    """`n` normal 16-feature inputs labelled by the largest of the first 4."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (np.argmax(x[:, :4], axis=1)).astype("int64")
    return x, y


def fit(model, callbacks, epochs=2, x=None, y=None, **kwargs):
    """Fit `model` (compiled at lr 1e-2 unless it is) on `toy_data()` by default."""
    if x is None:
        x, y = toy_data()
    if not model.compiled:
        training.compile_model(model, 1e-2)
    return model.fit(
        x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks, **kwargs
    )
