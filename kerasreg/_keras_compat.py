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
    "fix_multi_worker_fit",
    "configure_coordination_service",
    "disable_per_channel_quantization",
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


def fix_multi_worker_fit():
    """Make `model.fit` work under a multi-worker `MultiWorkerMirroredStrategy`.

    Keras 3.15's TensorFlow trainer fails with more than one worker
    (keras-team/keras#20585, tensorflow/tensorflow#72388), in two places,
    both reached only when `_collective_all_reduce_multi_worker(strategy)`:

    - `_maybe_symbolic_build` averages the first distributed batch with an
      eager cross-worker `strategy.reduce`, which cannot convert the
      `PerReplica` value ("Attempt to convert a value (PerReplica..."). It
      needs only shapes: this worker's first replica's batch is used.
    - `reduce_per_replica(..., "mean")` calls `strategy.reduce("MEAN", v,
      axis=0)` on the scalar logs of every step ("Invalid reduction
      dimension 0 for input with 0 dimensions"). It is replaced by the mean
      over replicas (`axis=None`), what one worker and `MirroredStrategy`
      compute.

    Every other strategy takes the original code. Idempotent.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer, "_kerasreg_multi_worker_fix", False):
        return
    import tensorflow as tf

    multi_worker = tf_trainer._collective_all_reduce_multi_worker
    reduce_per_replica = tf_trainer.reduce_per_replica
    symbolic_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def _reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values
            )
        return reduce_per_replica(values, strategy, reduction=reduction)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not multi_worker(strategy):
            return symbolic_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            data_batch = tree.map_structure(
                lambda v: (
                    strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues)
                    else v
                ),
                next(it),
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    tf_trainer.reduce_per_replica = _reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer._kerasreg_multi_worker_fix = True


def configure_coordination_service(cluster_resolver, heartbeat_timeout):
    """Start TensorFlow's coordination service with a given heartbeat timeout.

    `MultiWorkerMirroredStrategy` configures the service itself, with a
    10-second heartbeat timeout, unless one is configured already: then it
    keeps that. A worker whose heartbeat thread is starved longer than that
    (two workers and another job on two cores) is declared dead, and the
    job aborts ("heartbeat timeout"). This configures the same service as
    the strategy would, with `heartbeat_timeout` seconds. Call it before
    creating the strategy; a second call does nothing.
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    if context.context().coordination_service is not None:
        return
    spec = cluster_resolver.cluster_spec()
    if cluster_resolver.task_type not in ("chief", "worker"):
        return
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
        for job in ("chief", "worker")
        if job in spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        heartbeat_timeout_in_ms=int(heartbeat_timeout * 1000),
    )


def disable_per_channel_quantization(converter):
    """Make a `tf.lite.TFLiteConverter` quantize each kernel with one scale.

    The converter quantizes weights per output channel; its only switch
    for one scale per tensor is a private attribute.
    """
    converter._experimental_disable_per_channel = True
