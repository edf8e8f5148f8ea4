"""Shared fixtures of the tests (the TensorFlow set-up is in ../conftest.py)."""

import os
import re

import numpy as np
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


@pytest.fixture(scope="session")
def trained(digits):
    """A cnn-tiny trained 4 epochs on digits, once per session.

    The export tests and `kerasreg export` convert, save and measure it;
    none of them changes it.
    """
    import keras

    from kerasreg import models, training

    keras.utils.set_random_seed(0)
    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    training.compile_model(model, 1e-2)
    model.fit(digits.x_train, digits.y_train, epochs=4, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def teacher(digits):
    """A cnn-tiny trained briefly on digits, once per test module.

    Per module, as before it moved here: distillation freezes a teacher in
    place, so each module starts from a fresh one.
    """
    import keras

    from kerasreg import models, training

    keras.utils.set_random_seed(0)
    model = training.compile_model(
        models.build("cnn-tiny", digits.input_shape, 10), learning_rate=1e-2
    )
    model.fit(digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0)
    return model


def refused(error, message, call, *args, **kwargs):
    """Check that `call(*args, **kwargs)` raises `error` saying `message`, one line."""
    with pytest.raises(error, match=re.escape(message) + "$") as info:
        call(*args, **kwargs)
    assert "\n" not in str(info.value)


def arrays(batches):
    """Every `(x, y)` batch of a tf.data pipeline, concatenated into two arrays."""
    xs, ys = zip(*batches.as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


def image_pipeline(n=10, dtype=np.uint8, seed=0):
    """An unbatched tf.data pipeline of `n` random 4x4x3 images in 3 classes.

    Returns the pipeline and its images and labels as arrays.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 4, 4, 3)).astype(dtype)
    y = np.arange(n) % 3
    return tf.data.Dataset.from_tensor_slices((x, y)), x, y
