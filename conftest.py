"""Set-up shared by the tests and the docstring examples.

The CPU is split into two logical devices before TensorFlow initialises, so
that data-parallel code (MirroredStrategy over two replicas) can be tested on
a CPU-only machine; ops without a device scope still run on /CPU:0. This
lives at the root so that it runs before `pytest --doctest-modules kerasreg`
imports the package.

Docstring examples see `np`, `keras` and `kerasreg`, and run in a fresh
temporary directory, so that files they write land nowhere else.
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


@pytest.fixture(autouse=True)
def _doctest_setup(request, doctest_namespace, tmp_path, monkeypatch):
    import keras

    import kerasreg

    keras.utils.set_random_seed(0)
    np.random.seed(0)
    if type(request.node).__name__ == "DoctestItem":
        doctest_namespace.update(np=np, keras=keras, kerasreg=kerasreg)
        monkeypatch.chdir(tmp_path)
    yield
