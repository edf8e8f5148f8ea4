"""Shared fixtures of the tests (the TensorFlow set-up is in ../conftest.py)."""

import os

import pytest

MNIST_PATH = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist", "mnist.npz"
)


@pytest.fixture(scope="session")
def digits():
    """The bundled digits dataset, loaded once per session."""
    from kerasreg import data

    return data.load("digits")


def make_image_folder(root, classes=3, train=24, test=8, size=(16, 16), seed=0):
    """A learnable image folder: `train/` and `test/` of class folders of PNGs.

    Each class has its own mean colour plus noise, so a small model beats
    chance after an epoch or two.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, (classes, 3))
    for split, count in (("train", train), ("test", test)):
        for c in range(classes):
            folder = os.path.join(root, split, f"class_{c}")
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                noise = rng.normal(0, 25, (*size, 3))
                pixels = np.clip(colours[c] + noise, 0, 255).astype("uint8")
                Image.fromarray(pixels, "RGB").save(
                    os.path.join(folder, f"{i:03d}.png")
                )
    return str(root)


def make_user_model(path, input_shape=(16, 16, 3), classes=3, batchnorm=True):
    """A user's model in the Keras guides' style: Rescaling and RandomFlip first."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(input_shape, name="pixels")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.RandomFlip("horizontal")(x)
    for i, width in enumerate((8, 16)):
        x = keras.layers.Conv2D(width, 3, padding="same", name=f"conv{i}")(x)
        if batchnorm:
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    model = keras.Model(inputs, outputs, name="my_model")
    model.save(path)
    return str(path)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """`make_image_folder` once per session (3 classes, 72 + 24 PNGs)."""
    return make_image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture
def user_model(tmp_path):
    """`make_user_model` saved as `my_model.keras` in the test's directory."""
    return make_user_model(tmp_path / "my_model.keras")
