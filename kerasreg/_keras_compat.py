"""Every private Keras, keras-tuner and TensorFlow API kerasreg touches.

Keras 3 has no public way to read a functional model's graph (which layer
feeds which), to run that graph with a per-operation hook, or to scale a
loss for a distribution strategy inside a custom `compute_loss`; the
channel surgery, FLOP counting, model parallelism and distillation need all
three. They are reached only through this module, so that a Keras upgrade
that moves them breaks here, in one place, and the tests of this module say
what changed.
"""

from __future__ import annotations

import keras

__all__ = [
    "functional_graph",
    "nodes_by_depth",
    "outputs_struct",
    "inbound_nodes",
    "node_input_tensors",
    "parent_nodes",
    "keras_history",
    "operation_fn",
    "standardize_inputs",
    "run_through_graph",
    "scale_loss_for_distribution",
    "mirrored_strategy_with_key_base",
]


def functional_graph(model):
    """The functional graph behind `model`, or `None` for a subclassed model.

    A functional model is its own graph; a `Sequential` model keeps its
    graph in a private functional model.
    """
    if isinstance(model, keras.Sequential):
        return model._functional
    if isinstance(getattr(model, "_nodes_by_depth", None), dict):
        return model
    return None


def nodes_by_depth(graph):
    """`{depth: [Node]}` of a functional graph (outputs at depth 0)."""
    return graph._nodes_by_depth


def outputs_struct(graph):
    """The nested structure of a functional graph's outputs."""
    return graph._outputs_struct


def inbound_nodes(layer):
    """The nodes that call `layer`, one per call."""
    return layer._inbound_nodes


def node_input_tensors(node):
    """The Keras tensors a node passes to its operation, flattened."""
    return node.arguments.keras_tensors


def parent_nodes(node):
    """The nodes that produced a node's inputs."""
    return node.parent_nodes


def keras_history(tensor):
    """`(operation, node_index)` that produced a symbolic Keras tensor."""
    history = tensor._keras_history
    return history.operation, history.node_index


def operation_fn(operation, training):
    """Keras's wrapper that calls one graph operation with `training`."""
    from keras.src.models.functional import operation_fn as fn

    return fn(operation, training=training)


def standardize_inputs(model, inputs):
    """A functional model's inputs, in the structure its graph expects."""
    return model._standardize_inputs(inputs)


def run_through_graph(model, inputs, operation_fn):
    """Run a functional graph, calling `operation_fn(op)` for each operation."""
    return model._run_through_graph(inputs, operation_fn=operation_fn)


def scale_loss_for_distribution(value):
    """Divide a loss by the number of replicas, as `Model.compute_loss` does."""
    from keras.src.losses.loss import scale_loss_for_distribution as scale

    return scale(value)


def mirrored_strategy_with_key_base(devices, key_base):
    """A `tf.distribute.MirroredStrategy` whose collective keys start at `key_base`.

    Every `MirroredStrategy` starts its collective keys at the same private
    class attribute `_collective_key_base`; two strategies in one process
    whose programs all-reduce tensors of different shapes under one key
    abort. The attribute is restored afterwards.
    """
    import tensorflow as tf

    cls = tf.distribute.MirroredStrategy
    saved = cls.__dict__.get("_collective_key_base", 0)
    cls._collective_key_base = key_base
    try:
        return cls(devices=devices)
    finally:
        cls._collective_key_base = saved
