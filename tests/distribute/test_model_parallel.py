"""split_model: consecutive stages on logical CPUs, identical outputs."""

import numpy as np
import pytest
import tensorflow as tf

from kerasreg import models
from kerasreg.distribute import split_model

DEVICES = ["/cpu:0", "/cpu:1"]


@pytest.mark.parametrize("name", ["cnn", "resnet"])
def test_split_outputs_are_identical(name):
    model = models.build(name, (8, 8, 1), 10)
    x = np.random.rand(32, 8, 8, 1).astype("float32")
    split = split_model(model, DEVICES)
    stages = split.stages()
    assert len(stages) == 2 and all(stages)
    np.testing.assert_array_equal(split(x), model(x))
    np.testing.assert_array_equal(split(x, training=True), model(x, training=True))
    piped = split_model(model, DEVICES, micro_batches=4)
    np.testing.assert_allclose(piped(x), model(x), atol=1e-6)


def test_stages_are_placed_on_their_devices():
    model = models.build("cnn", (8, 8, 1), 10)
    split = split_model(model, DEVICES)
    graph = (
        tf.function(lambda x: split(x))
        .get_concrete_function(tf.TensorSpec((None, 8, 8, 1)))
        .graph
    )
    devices = {
        op.device.rsplit(":", 1)[-1] for op in graph.get_operations() if op.device
    }
    assert devices == {"0", "1"}
    on_second = [op.name for op in graph.get_operations() if op.device.endswith(":1")]
    assert split.stages()[1][0] == "fc"
    assert any("fc" in name for name in on_second)
    assert not any("block1_conv" in name for name in on_second)


def test_bad_devices_and_micro_batches():
    model = models.build("cnn-tiny", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="Device '/gpu:7' does not exist"):
        split_model(model, ["/cpu:0", "/gpu:7"])
    with pytest.raises(
        ValueError, match="Expected micro_batches >= 1. Received: micro_batches=0"
    ):
        split_model(model, DEVICES, micro_batches=0)
    with pytest.raises(ValueError, match="Expected at least one device"):
        split_model(model, [])
