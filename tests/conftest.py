"""Shared test set-up.

The CPU is split into two logical devices before TensorFlow initialises, so
that data-parallel code (MirroredStrategy over two replicas) can be tested on
a CPU-only machine. Ops without a device scope still run on /CPU:0.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

MNIST_PATH = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist", "mnist.npz"
)


@pytest.fixture(scope="session")
def digits():
    """The bundled digits dataset, loaded once per session."""
    from kerasreg import data

    return data.load("digits")


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield
