"""What training needs from a strategy: a scope to build in, and a fit.

`kerasreg.training.train` builds and compiles a model inside
`training_scope(strategy, precision)` and trains it with `fit`, so one code
path serves one device, `MirroredStrategy`, `MultiWorkerMirroredStrategy`
and parameter servers alike:

- with several replicas, BatchNormalization is synchronized first, so the
  run matches one device;
- `ParameterServerStrategy` trains with `AsyncTrainer` (Keras 3's
  `model.fit` rejects it), and `local_copy` brings the weights back from
  the parameter servers for evaluation and saving.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from kerasreg._choices import PRECISIONS
from kerasreg.distribute.async_trainer import AsyncTrainer
from kerasreg.distribute.strategies import strategy as make_strategy
from kerasreg.distribute.strategies import synchronize_batchnorm

__all__ = [
    "dtype_policy",
    "training_scope",
    "fit",
    "local_copy",
    "is_parameter_server",
    "is_multi_worker",
    "check_global_batch",
]


@contextlib.contextmanager
def dtype_policy(precision):
    """Build layers under a `keras.mixed_precision` policy, then restore it.

    Args:
        precision: one of `PRECISIONS`, or `None` to keep the global policy.

    Raises:
        ValueError: for an unknown precision.
    """
    if precision is None:
        yield
        return
    if precision not in PRECISIONS:
        raise ValueError(
            f"Expected precision to be one of {', '.join(PRECISIONS)}. "
            f"Received: precision={precision!r}"
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def resolve(strategy):
    """A `tf.distribute.Strategy` from a strategy or a `strategy()` kind."""
    return make_strategy(strategy) if isinstance(strategy, str) else strategy


def is_parameter_server(strategy):
    """Whether `strategy` is a `ParameterServerStrategy`."""
    return isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy)


def check_global_batch(strategy, batch_size):
    """Refuse a global batch that does not split evenly over sync replicas.

    With `MirroredStrategy` or `MultiWorkerMirroredStrategy`, each replica
    takes `batch_size / replicas` examples; an uneven split weights the
    replicas' mean losses unequally, and the run no longer matches one
    device. Parameter-server steps are per worker, so any batch works there.

    Raises:
        ValueError: for a batch size not divisible by the replicas.
    """
    if strategy is None or is_parameter_server(strategy):
        return
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and batch_size % replicas:
        raise ValueError(
            f"The global batch of {batch_size} does not split evenly over the "
            f"{replicas} replicas of {type(strategy).__name__}; choose a "
            f"batch_size divisible by {replicas}. Received: batch_size={batch_size}"
        )


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy`."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@contextlib.contextmanager
def training_scope(strategy=None, precision=None):
    """Build and compile a model in here: the strategy's scope and dtype policy.

    Args:
        strategy: a `tf.distribute.Strategy`, or `None` for one device.
        precision: a dtype policy name (see `dtype_policy`), or `None`.
    """
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with dtype_policy(precision), scope:
        yield


def fit(model, x, y, *, strategy=None, **kwargs):
    """Train `model` on `(x, y)` under `strategy`; returns the `History`.

    Args:
        model: a compiled `keras.Model`, built in `training_scope(strategy)`.
        x, y: training inputs and labels, or a `tf.data.Dataset` of
            `(x, y)` batches and `y=None`.
        strategy: the strategy the model was built under, or `None`.
        **kwargs: `validation_data`, `epochs`, `batch_size`, `callbacks`,
            `verbose`, as for `keras.Model.fit`.
    """
    if is_parameter_server(strategy):
        if y is None:
            raise ValueError(
                "ParameterServerStrategy trains from arrays in memory here; "
                "for an image folder or a tf.data pipeline, call "
                "AsyncTrainer.fit(dataset_fn=...) directly."
            )
        kwargs.pop("shuffle", None)
        return AsyncTrainer(model, strategy).fit(x, y, **kwargs)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        synchronize_batchnorm(model)
    return model.fit(x, y, **kwargs)


def local_copy(model, precision=None):
    """An uncompiled copy of `model` on this process, with its trained weights.

    After parameter-server training the variables live on the servers;
    evaluation and saving use this copy.
    """
    with dtype_policy(precision):
        local = keras.models.clone_model(model)
    local.set_weights(model.get_weights())
    return local
