"""kerasreg/_keras_compat.py: the private Keras APIs still mean what we use them for.

When a Keras upgrade moves one of them, these tests say which.
"""

import keras
import numpy as np

from kerasreg import _keras_compat as compat


def _functional():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    return keras.Model(inputs, outputs)


def test_graph_access_on_functional_and_sequential_models():
    model = _functional()
    assert compat.functional_graph(model) is model
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert isinstance(compat.functional_graph(seq), keras.Model)

    class Sub(keras.Model):
        def call(self, x):
            return x

    assert compat.functional_graph(Sub()) is None
    depths = compat.nodes_by_depth(model)
    ops = {node.operation.name for nodes in depths.values() for node in nodes}
    assert {"hidden", "out"} <= ops


def test_nodes_tensors_and_history():
    model = _functional()
    out = model.get_layer("out")
    (node,) = compat.inbound_nodes(out)
    (tensor,) = compat.node_input_tensors(node)
    assert tuple(tensor.shape) == (None, 3)
    (parent,) = compat.parent_nodes(node)
    assert parent.operation.name == "hidden"
    operation, index = compat.keras_history(model.outputs[0])
    assert (operation.name, index) == ("out", 0)
    assert compat.outputs_struct(model) is not None


def test_run_through_graph_calls_the_hook_for_every_operation():
    model = _functional()
    seen = []

    def hook(op):
        call = compat.operation_fn(op, training=False)
        seen.append(op.name)
        return call

    x = np.ones((2, 4), "float32")
    inputs = compat.standardize_inputs(model, x)
    outputs = compat.run_through_graph(model, inputs, hook)
    np.testing.assert_allclose(np.asarray(outputs), model(x), atol=1e-6)
    assert seen == ["hidden", "out"]


def test_scale_loss_for_distribution_is_identity_on_one_device():
    assert (
        float(compat.scale_loss_for_distribution(keras.ops.convert_to_tensor(3.0)))
        == 3.0
    )


def test_mirrored_strategy_key_base_is_restored():
    import tensorflow as tf

    before = tf.distribute.MirroredStrategy.__dict__.get("_collective_key_base", 0)
    strategy = compat.mirrored_strategy_with_key_base(["/cpu:0"], 700_000)
    assert strategy.num_replicas_in_sync == 1
    after = tf.distribute.MirroredStrategy.__dict__.get("_collective_key_base", 0)
    assert after == before
