"""Pick a `tf.distribute` strategy: mirrored, multi-worker or parameter server.

`strategy(kind)` is the one entry point. `"mirrored"` runs on the local GPUs,
or on a CPU-only machine splits the CPU into logical devices so that data
parallelism can be exercised anywhere. `"multiworker"` and `"ps"` read the
cluster from the `TF_CONFIG` environment variable, so the same script runs on
a real cluster; `read_tf_config` validates it first and says what is wrong.

Synchronous data parallelism and BatchNormalization: each replica normalises
with the statistics of its own share of the batch, so two replicas with a
global batch of 64 do not compute what one device with a batch of 64 does.
`synchronize_batchnorm(model)` switches every BatchNormalization layer to
Keras's `synchronized=True` (the moments are all-reduced over the replicas),
which makes the forward pass, the loss and the gradients of N replicas those
of one device on the same global batch; `kerasreg.training.train` does it for
you whenever the strategy has more than one replica.
"""

from __future__ import annotations

import itertools
import json
import os

import keras
import tensorflow as tf

from kerasreg import _keras_compat
from kerasreg._layer_tree import walk_layers

__all__ = [
    "strategy",
    "read_tf_config",
    "setup_logical_cpus",
    "synchronize_batchnorm",
    "is_chief",
    "KINDS",
    "COLLECTIVE_TIMEOUT",
    "HEARTBEAT_TIMEOUT",
]

KINDS = ("mirrored", "multiworker", "ps")

# Seconds a multi-worker collective (an all-reduce) may wait for a peer
# before it fails (`tf.distribute.experimental.CommunicationOptions
# (timeout_seconds=...)`); `None`: no per-collective timeout. TensorFlow
# implements the timeout with one thread per collective that sleeps for the
# whole timeout, so with 300 s a resnet20 worker held 10,800 threads after
# one CIFAR epoch and aborted in the second ("Resource temporarily
# unavailable"). A dead peer is detected by the coordination service's
# heartbeat instead (`HEARTBEAT_TIMEOUT`), which aborts every collective.
COLLECTIVE_TIMEOUT = None

# Seconds without a heartbeat after which TensorFlow's coordination service
# declares a worker dead and aborts the job (TensorFlow's default is 10,
# which a worker starved of CPU on a loaded machine can exceed).
HEARTBEAT_TIMEOUT = 60


def setup_logical_cpus(count):
    """Split the first physical CPU into `count` logical devices.

    Logical devices must be configured before TensorFlow initialises its
    runtime (before the first op runs or device is listed), so call this
    first thing in a fresh process. A configuration that already provides
    at least `count` logical CPUs is kept as it is.

    Args:
        count: number of logical CPUs wanted, `>= 1`.

    Returns:
        The names of the first `count` logical CPU devices, such as
        `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
        ValueError: if `count < 1`, or if TensorFlow has already initialised
            with fewer logical CPUs.

    Example:

    >>> setup_logical_cpus(2)  # doctest: +SKIP
    ['/device:CPU:0', '/device:CPU:1']
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"Expected count >= 1. Received: count={count!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu) or []
    if len(current) < count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * count
            )
        except RuntimeError:
            have = len(tf.config.list_logical_devices("CPU"))
            raise ValueError(
                f"Cannot split the CPU into {count} logical devices: "
                f"TensorFlow has already initialised with {have}. Call "
                "kerasreg.distribute.setup_logical_cpus(count) (or "
                "strategy('mirrored', replicas=count)) before any TensorFlow "
                "op runs, or ask for at most "
                f"{have} replicas."
            ) from None
    return [f"/device:CPU:{i}" for i in range(count)]


def strategy(
    kind="mirrored",
    replicas=None,
    *,
    devices=None,
    cluster_resolver=None,
    collective_timeout=COLLECTIVE_TIMEOUT,
):
    """Build a `tf.distribute.Strategy` of the given kind.

    Args:
        kind: `"mirrored"` (synchronous, one machine), `"multiworker"`
            (synchronous, several machines, from `TF_CONFIG`) or `"ps"`
            (asynchronous parameter-server training, from `TF_CONFIG` or
            `cluster_resolver`; train with `AsyncTrainer`). Defaults to
            `"mirrored"`.
        replicas: for `"mirrored"`, the number of replicas: all GPUs by
            default; on a machine without GPUs, that many logical CPUs
            (default 2).
        devices: for `"mirrored"`, explicit device names; overrides
            `replicas`.
        cluster_resolver: for `"ps"` (and `"multiworker"`), a
            `tf.distribute.cluster_resolver.ClusterResolver` such as
            `LocalCluster.cluster_resolver()`; `TF_CONFIG` is read when
            `None`.
        collective_timeout: for `"multiworker"`, the seconds an all-reduce
            waits for a peer before failing (`CommunicationOptions
            (timeout_seconds=...)`). Defaults to `COLLECTIVE_TIMEOUT`
            (`None`: each such timeout costs a sleeping thread per
            collective). A dead worker stops the job anyway: TensorFlow's
            coordination service declares it dead after
            `HEARTBEAT_TIMEOUT` (60) seconds without a heartbeat and aborts
            the others' collectives.

    Returns:
        A `tf.distribute.MirroredStrategy`,
        `tf.distribute.MultiWorkerMirroredStrategy` or
        `tf.distribute.ParameterServerStrategy`.

    Raises:
        ValueError: on an unknown `kind`, more replicas than devices, or a
            malformed `TF_CONFIG`.

    Example:

    >>> s = strategy("mirrored", replicas=2)  # doctest: +SKIP
    >>> s.num_replicas_in_sync  # doctest: +SKIP
    2
    """
    if kind not in KINDS:
        raise ValueError(
            f"Expected kind to be one of {', '.join(KINDS)}. Received: kind={kind!r}"
        )
    if kind == "mirrored":
        return _mirrored(list(devices) if devices else _mirrored_devices(replicas))
    if replicas is not None or devices is not None:
        raise ValueError(
            f"replicas and devices apply to kind='mirrored' only. Received: "
            f"kind={kind!r}, replicas={replicas!r}, devices={devices!r}"
        )
    if cluster_resolver is None:
        config = read_tf_config()
        if kind == "ps":
            _require_jobs(config, ("worker", "ps"))
        else:
            _require_worker_task(config)
        cluster_resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if kind == "multiworker":
        _keras_compat.fix_multi_worker_fit()
        _keras_compat.configure_coordination_service(
            cluster_resolver, HEARTBEAT_TIMEOUT
        )
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=collective_timeout
        )
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=cluster_resolver, communication_options=options
        )
    return tf.distribute.ParameterServerStrategy(cluster_resolver)


def _mirrored(devices):
    """A `MirroredStrategy` whose collective keys no other one in this process uses.

    Every `MirroredStrategy` starts its collective group and instance keys
    at the same numbers (0 outside TensorFlow's own tests). Two strategies in one process whose programs all-reduce
    tensors of different shapes under the same key then abort with "Shape
    mismatch in the collective instance" (seen with a synchronized-BN model
    trained after a plain one). Each strategy made here gets its own base.
    """
    return _keras_compat.mirrored_strategy_with_key_base(
        devices, _KEY_STRIDE * next(_key_bases)
    )


_KEY_STRIDE = 100_000
_key_bases = itertools.count(1)


def _mirrored_devices(replicas):
    if replicas is not None and (not isinstance(replicas, int) or replicas < 1):
        raise ValueError(f"Expected replicas >= 1. Received: replicas={replicas!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        count = len(gpus) if replicas is None else replicas
        if count > len(gpus):
            raise ValueError(
                f"Asked for replicas={replicas} but this machine has "
                f"{len(gpus)} GPU(s). Use replicas <= {len(gpus)}."
            )
        return [f"/gpu:{i}" for i in range(count)]
    return setup_logical_cpus(2 if replicas is None else replicas)


def read_tf_config(text=None):
    """Parse and validate a `TF_CONFIG` cluster description.

    `TF_CONFIG` is JSON with a `"cluster"` mapping job names (`"chief"`,
    `"worker"`, `"ps"`, `"evaluator"`) to lists of `"host:port"` addresses,
    and a `"task"` naming this process's job `"type"` and `"index"`:

    ```json
    {"cluster": {"chief": ["host0:2222"],
                 "worker": ["host1:2222", "host2:2222"],
                 "ps": ["host3:2222"]},
     "task": {"type": "worker", "index": 0}}
    ```

    Args:
        text: the JSON text; the `TF_CONFIG` environment variable when
            `None`.

    Returns:
        The parsed dict.

    Raises:
        ValueError: if it is missing, not JSON, or inconsistent (an unknown
            job, an address without a port, a task index out of range).
    """
    if text is None:
        text = os.environ.get("TF_CONFIG")
        if not text:
            raise ValueError(
                "TF_CONFIG is not set. Set it to the cluster description, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:2222"], "ps": '
                '["host2:2222"]}, "task": {"type": "worker", "index": 0}}\'.'
            )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({error.msg} at character "
            f"{error.pos}). Received: TF_CONFIG={text!r}"
        ) from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ValueError(
            "TF_CONFIG must be a JSON object with a 'cluster' object mapping "
            f"job names to address lists. Received: TF_CONFIG={text!r}"
        )
    for job, addresses in config["cluster"].items():
        if job not in ("chief", "worker", "ps", "evaluator"):
            raise ValueError(
                f"TF_CONFIG names an unknown job {job!r}; use chief, worker, "
                "ps or evaluator."
            )
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(
                f"TF_CONFIG cluster[{job!r}] must be a non-empty list of "
                f"'host:port' strings. Received: {addresses!r}"
            )
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(
                    f"TF_CONFIG cluster[{job!r}] has an address without a "
                    f"port: {address!r}. Write it as 'host:port'."
                )
    task = config.get("task", {})
    if task:
        kind, index = task.get("type"), task.get("index", 0)
        if kind not in config["cluster"]:
            raise ValueError(
                f"TF_CONFIG task type {kind!r} is not a job of the cluster "
                f"({', '.join(config['cluster'])})."
            )
        if not isinstance(index, int) or not 0 <= index < len(config["cluster"][kind]):
            raise ValueError(
                f"TF_CONFIG task index {index!r} is out of range for job "
                f"{kind!r}, which has {len(config['cluster'][kind])} task(s)."
            )
    return config


def _require_jobs(config, jobs):
    missing = [job for job in jobs if job not in config["cluster"]]
    if missing:
        raise ValueError(
            f"Parameter-server training needs jobs {', '.join(jobs)} in "
            f"TF_CONFIG's cluster; missing: {', '.join(missing)}."
        )


def _require_worker_task(config):
    task = config.get("task") or {}
    if task.get("type") not in ("chief", "worker"):
        raise ValueError(
            "Multi-worker training needs this process's task in TF_CONFIG, "
            '"task": {"type": "worker", "index": i} (or "chief"). Received: '
            f"task={config.get('task')!r}"
        )


def is_chief(config=None):
    """Whether this process is the chief of its `TF_CONFIG` cluster.

    The chief is the `"chief"` task, or worker 0 when the cluster has no
    chief job; it is the one that writes artefacts (models, reports, logs).
    Without `TF_CONFIG` (one process), it is `True`.

    Args:
        config: a parsed `TF_CONFIG` dict; read from the environment when
            `None`.

    Example:

    >>> is_chief({"cluster": {"worker": ["h:1", "h:2"]},
    ...           "task": {"type": "worker", "index": 1}})
    False
    """
    if config is None:
        if not os.environ.get("TF_CONFIG"):
            return True
        config = read_tf_config()
    task = config.get("task") or {}
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and task.get("index", 0) == 0


def synchronize_batchnorm(model):
    """Switch every BatchNormalization layer of `model` to synchronized mode.

    With `synchronized=True` Keras all-reduces the batch moments across the
    replicas of the current strategy, so every replica normalises with the
    statistics of the global batch, exactly as one device would. Outside a
    strategy it changes nothing. Call it before the first training step
    (before the train function is traced).

    Args:
        model: a Keras model; nested models are included.

    Returns:
        The number of layers switched.
    """
    count = 0
    for layer in walk_layers(model, include_self=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            if not layer.synchronized:
                layer.synchronized = True
                count += 1
    if count and getattr(model, "train_function", None) is not None:
        model.train_function = None
    return count
