"""`kerasreg.training.train` with a strategy or a precision policy."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from kerasreg import models as models_lib
from kerasreg import training
from kerasreg.distribute.async_trainer import AsyncTrainer
from kerasreg.distribute.strategies import strategy as make_strategy
from kerasreg.distribute.strategies import synchronize_batchnorm

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy(precision):
    """Build layers under a `keras.mixed_precision` policy, then restore."""
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


def train_distributed(
    model,
    dataset,
    *,
    strategy,
    precision,
    finish,
    epochs,
    batch_size,
    learning_rate,
    callbacks,
    out,
    verbose,
):
    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with dtype_policy(precision), scope:
        if isinstance(model, str):
            model = models_lib.build(model, dataset.input_shape, dataset.num_classes)
        if not model.compiled:
            training.compile_model(model, learning_rate)
    validation = (dataset.x_test, dataset.y_test)
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        history = AsyncTrainer(model, strategy).fit(
            dataset.x_train,
            dataset.y_train,
            batch_size=batch_size,
            epochs=epochs,
            validation_data=validation,
            callbacks=callbacks,
            verbose=verbose,
        )
        # Copy the weights off the parameter servers for evaluation and saving.
        with dtype_policy(precision):
            local = keras.models.clone_model(model)
        local.set_weights(model.get_weights())
        training.compile_model(local, learning_rate)
        model = local
    else:
        if strategy is not None and strategy.num_replicas_in_sync > 1:
            synchronize_batchnorm(model)
        history = model.fit(
            dataset.x_train,
            dataset.y_train,
            validation_data=validation,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=list(callbacks or []),
            verbose=verbose,
        )
    return finish(model, dataset, history.history, epochs, out)
