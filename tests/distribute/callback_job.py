"""kerasreg's callbacks and Distiller, trained the same way under every strategy.

`effects(kind)` trains four small digits jobs under one strategy and returns
what each callback did, in a form the tests compare with one device:

- `NetworkSlimming`: the frozen (dead) channels of every BN layer;
- `MagnitudePruning`: the pruning masks (as lists of 0/1);
- `EarlyStopping`: the epochs that ran;
- `Distiller`: the per-epoch losses.

Kinds: `"one"` (one device), `"mirrored"` (2 logical CPUs), `"multiworker"`
(call it through `kerasreg.distribute.launch`) and `"ps"` (a `LocalCluster`
of 1 worker and 1 parameter server, trained with `AsyncTrainer`). The data
is not shuffled and 512 images split evenly into batches of 64, so each
step sees the same batch everywhere; with one worker, parameter-server steps
run in order, as on one device.
"""

from __future__ import annotations

import contextlib

import numpy as np

N, BATCH, EPOCHS = 512, 64, 3


def effects(kind, pruning="schedule"):
    """Train the four jobs under strategy `kind`; returns their effects.

    `pruning` is `"schedule"` (masks recomputed during training) or `"2:4"`
    (masks fixed when training begins, for parameter servers).
    """
    from kerasreg import distribute

    with contextlib.ExitStack() as stack:
        if kind == "one":
            strategy = None
        elif kind == "ps":
            cluster = stack.enter_context(distribute.LocalCluster(1, 1))
            strategy = cluster.strategy()
        elif kind == "mirrored":
            strategy = distribute.strategy("mirrored", replicas=2)
        else:
            strategy = distribute.strategy(kind)
        return {
            "dead": _slimming(strategy),
            "masks": _pruning(strategy, pruning),
            "early_epochs": _early_stopping(strategy),
            "distill_loss": _distill(strategy),
        }


def effects_of_pruning(mode):
    """The pruning masks of one device alone, for `mode` ("schedule" or "2:4")."""
    return _pruning(None, mode)


def _data():
    from kerasreg import data

    digits = data.load("digits")
    return digits.x_train[:N], digits.y_train[:N]


def _build(strategy, seed=0, learning_rate=1e-2):
    import keras

    from kerasreg import models, training

    keras.utils.set_random_seed(seed)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = training.compile_model(
            models.build("cnn-tiny", (8, 8, 1), 10), learning_rate=learning_rate
        )
    return model


def _fit(model, strategy, callbacks, epochs=EPOCHS):
    """`model.fit`, or `AsyncTrainer.fit` under parameter servers."""
    from kerasreg import distribute

    x, y = _data()
    if isinstance(strategy, _ps_type()):
        import tensorflow as tf

        def dataset_fn(context):
            return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH)

        trainer = distribute.AsyncTrainer(model, strategy)
        history = trainer.fit(
            dataset_fn=dataset_fn,
            steps_per_epoch=N // BATCH,
            epochs=epochs,
            callbacks=callbacks,
            verbose=0,
        )
    else:
        if strategy is not None:
            distribute.synchronize_batchnorm(model)
        history = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=epochs,
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
    return history.history


def _ps_type():
    import tensorflow as tf

    return tf.distribute.experimental.ParameterServerStrategy


def _slimming(strategy):
    from kerasreg.compression import NetworkSlimming

    # A high learning rate, so that γ crosses zero (and freezes) in 24 steps.
    model = _build(strategy, learning_rate=0.1)
    slim = NetworkSlimming(l1=1e-2, freeze_from_epoch=1)
    _fit(model, strategy, [slim])
    return {
        bn.name: np.flatnonzero(np.asarray(bn.gamma.numpy()) == 0).tolist()
        for bn in slim._bn_layers
    }


def _pruning(strategy, mode):
    from kerasreg.compression import MagnitudePruning
    from kerasreg.compression.pruning import PolynomialDecay

    model = _build(strategy)
    if mode == "2:4":
        # Asynchronous steps are scheduled before their batch hooks run, so
        # masks that change during training would depend on timing; 2:4
        # masks are fixed when training begins and held by every update.
        prune = MagnitudePruning(mode="2:4")
    else:
        prune = MagnitudePruning(PolynomialDecay(0.0, 0.75, 0, 16, frequency=4))
    _fit(model, strategy, [prune])
    return {
        layer.name: (np.asarray(layer.kernel.numpy()) != 0).astype(int).ravel().tolist()
        for layer, _, _, _ in prune._targets
    }


def _early_stopping(strategy):
    import keras

    model = _build(strategy)
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=0.3, patience=0)
    history = _fit(model, strategy, [stop], epochs=8)
    return len(history["loss"])


def _distill(strategy):
    from kerasreg.compression import Distiller

    teacher = _build(strategy, seed=1)
    student = _build(strategy, seed=2)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        distiller = Distiller(student, teacher, temperature=4.0)
        distiller.compile(optimizer="adam", metrics=["accuracy"])
    return _fit(distiller, strategy, [])["loss"]


if __name__ == "__main__":  # python callback_job.py ps: one line, RESULT {...}
    import json
    import sys

    print("RESULT " + json.dumps(effects(sys.argv[1], *sys.argv[2:])), flush=True)
