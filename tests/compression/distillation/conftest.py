"""Shared by the distillation tests: a small MLP, toy data and a softmax."""

import keras
import numpy as np


def mlp(num_classes=4, hidden=8, name=None, activation=None):
    """6 inputs, `hidden` ReLU units, `num_classes` outputs (logits by default)."""
    inputs = keras.Input((6,))
    x = keras.layers.Dense(hidden, activation="relu")(inputs)
    outputs = keras.layers.Dense(num_classes, activation=activation)(x)
    return keras.Model(inputs, outputs, name=name)


def toy(n=64, num_classes=4):
    """`n` random 6-feature inputs with random labels (seed 0)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, num_classes, n)
    return x, y


def softmax(z):
    """NumPy softmax over the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
