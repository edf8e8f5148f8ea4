"""Asynchronous parameter-server training for Keras 3 models.

In Keras 3, `model.fit` rejects `tf.distribute.ParameterServerStrategy`.
`AsyncTrainer` is the fit-like loop that TensorFlow's parameter-server
tutorial writes by hand: the model's variables live on the parameter
servers, a `tf.distribute.coordinator.ClusterCoordinator` schedules one
training step at a time on whichever worker is free, and each worker reads
the current weights, computes its gradients and pushes its update without
waiting for the others. A worker that dies is retried elsewhere by the
coordinator, so every scheduled step completes.

Staleness is measured on every step: the optimizer's step counter (a
variable on the parameter server) is read before the forward pass and
after the update; the difference minus one is the number of updates from
other workers that landed between this worker's read and its write.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from kerasreg.distribute.step_checkpoint import StepCheckpoint, lost_message

__all__ = ["AsyncTrainer"]


class AsyncTrainer:
    """Train a Keras 3 model with `ParameterServerStrategy`, like `fit`.

    Build (and compile) the model inside `strategy.scope()`, so that its
    variables are created on the parameter servers. The loss is the
    model's own `compute_loss` when it is compiled (this covers a plain
    compiled model, `keras.distillation.Distiller` and kerasreg's
    `Distiller`, and every regularization loss such as NetworkSlimming's
    penalty), or `loss(y_true, y_pred)` plus `model.losses` otherwise.

    Args:
        model: a `keras.Model` whose variables were created under
            `strategy.scope()`.
        strategy: a `tf.distribute.ParameterServerStrategy`, e.g.
            `LocalCluster.strategy()` or `strategy("ps")`.
        optimizer: defaults to the compiled optimizer of `model`.
        loss: a loss callable for an uncompiled model. Defaults to `None`.

    Raises:
        ValueError: if `strategy` is not a parameter-server strategy, the
            model was built outside its scope, or no optimizer or loss is
            known.

    Example:

    >>> with LocalCluster(2, 1) as cluster:  # doctest: +SKIP
    ...     strategy = cluster.strategy()
    ...     with strategy.scope():
    ...         model = training.compile_model(models.cnn((8, 8, 1), 10))
    ...     history = AsyncTrainer(model, strategy).fit(x, y, epochs=5)
    ...     history.history["staleness"]
    """

    def __init__(self, model, strategy, *, optimizer=None, loss=None):
        if not isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
            raise ValueError(
                "AsyncTrainer needs a tf.distribute.ParameterServerStrategy "
                "(use LocalCluster(...).strategy() or "
                f"kerasreg.distribute.strategy('ps')). Received: strategy={strategy!r}"
            )
        self.model = model
        self.strategy = strategy
        self.optimizer = optimizer or getattr(model, "optimizer", None)
        if self.optimizer is None:
            raise ValueError(
                "No optimizer: compile the model or pass optimizer=. "
                "Received: optimizer=None"
            )
        if loss is None and not getattr(model, "compiled", False):
            raise ValueError(
                "No loss: compile the model or pass loss=. Received: loss=None"
            )
        self.loss = loss
        variables = [v for v in model.variables]
        if not variables or not all(
            strategy.extended.variable_created_in_scope(_tf_variable(v))
            for v in variables
        ):
            raise ValueError(
                "The model's variables were not created under this "
                "strategy's scope. Build the model inside "
                "`with strategy.scope():` so they live on the parameter servers."
            )
        with strategy.scope():
            self.optimizer.build(model.trainable_variables)
            # Updates applied so far, over all workers; an atomic assign_add
            # on the parameter server (the optimizer's own counter can lose
            # concurrent increments).
            self._version = tf.Variable(0, dtype=tf.int64, trainable=False)
            # Sums over the current epoch: loss * n, correct, n, staleness.
            self._totals = tf.Variable(tf.zeros(4, tf.float64), trainable=False)
        self.coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
        self.staleness = np.zeros((0,), dtype=np.int64)
        self.steps_completed = 0
        self.updates = 0

    # -- the loop ---------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        *,
        batch_size=64,
        epochs=1,
        steps_per_epoch=None,
        dataset_fn=None,
        validation_data=None,
        callbacks=None,
        verbose="auto",
        seed=0,
        checkpoint_dir=None,
        checkpoint_every=None,
    ):
        """Train for `epochs * steps_per_epoch` asynchronous steps.

        Args:
            x, y: NumPy training data; each worker reads its own shard,
                shuffled and repeated. Give these or `dataset_fn`.
            batch_size: per-step (per-worker) batch size for `x, y`.
                Defaults to `64`.
            epochs: number of epochs. Defaults to `1`.
            steps_per_epoch: steps per epoch over all workers; defaults to
                `ceil(len(x) / batch_size)`, so an epoch sees the data once.
                Required with `dataset_fn`.
            dataset_fn: a callable `fn(input_context) -> tf.data.Dataset`
                yielding repeated `(x, y)` batches; run on every worker
                through `ClusterCoordinator.create_per_worker_dataset`.
            validation_data: `(x_val, y_val)` evaluated on the coordinator
                at each epoch end (`val_loss`, `val_accuracy`).
            callbacks: Keras callbacks (kerasreg's included).
            verbose: `0` silent, `"auto"` or `1` a progress bar. Defaults to
                `"auto"`.
            seed: shuffling seed for `x, y`. Defaults to `0`.
            checkpoint_dir: save the variables (read from the parameter
                servers) here every `checkpoint_every` steps, and resume
                from the latest checkpoint there when one exists: after a
                parameter server dies, restart the cluster and call `fit`
                again with the same arguments (see `StepCheckpoint`).
                Defaults to `None` (no checkpoints).
            checkpoint_every: steps between checkpoints; required with
                `checkpoint_dir`.

        Returns:
            A `keras.callbacks.History` with `loss`, `accuracy` (for
            integer labels), `staleness` (mean per epoch), `staleness_max`,
            `steps` and the validation metrics.

        Raises:
            TypeError: if `dataset_fn` is not callable.
            ValueError: on missing data or bad counts.
            RuntimeError: when a parameter server is lost; the message
                names the last checkpoint to resume from.
        """
        dataset_fn, steps_per_epoch = _as_dataset_fn(
            x, y, dataset_fn, batch_size, steps_per_epoch, seed
        )
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Expected epochs >= 1. Received: epochs={epochs!r}")
        history = keras.callbacks.History()
        callbacks = keras.callbacks.CallbackList(
            [*(callbacks or []), history],
            add_progbar=verbose not in (0, False),
            model=self.model,
            verbose=1 if verbose == "auto" else verbose,
            epochs=epochs,
            steps=steps_per_epoch,
        )
        self.model.stop_training = False
        callbacks.on_train_begin()
        # Traced after on_train_begin, so that callbacks which attach
        # penalties or constraints there (NetworkSlimming) are included.
        step = self._make_step()

        def per_worker_dataset_fn():
            return self.strategy.distribute_datasets_from_function(dataset_fn)

        per_worker = self.coordinator.create_per_worker_dataset(per_worker_dataset_fn)
        iterator = iter(per_worker)
        saver = self._checkpointer(checkpoint_dir, checkpoint_every)
        start = saver.restore() if saver else 0
        if saver:
            self.steps_completed = start
        staleness, logs = [], {}
        for epoch in range(start // steps_per_epoch, epochs):
            callbacks.on_epoch_begin(epoch)
            first = start % steps_per_epoch if epoch == start // steps_per_epoch else 0
            try:
                results, epoch_staleness = self._run_epoch(
                    step, iterator, range(first, steps_per_epoch), saver, callbacks
                )
            except (tf.errors.UnavailableError, tf.errors.AbortedError) as error:
                raise RuntimeError(lost_message(error, checkpoint_dir)) from None
            totals = self._totals.numpy()
            self._totals.assign(tf.zeros_like(self._totals))
            self.updates = int(self._version.numpy())
            staleness.extend(epoch_staleness)
            logs = self._logs(totals)
            logs["staleness"] = float(totals[3] / max(len(results), 1))
            logs["staleness_max"] = float(max(epoch_staleness, default=0))
            logs["steps"] = float(self.steps_completed)
            logs["updates"] = float(self.updates)
            if validation_data is not None:
                logs.update(self.evaluate(*validation_data, prefix="val_"))
            callbacks.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        callbacks.on_train_end(logs)
        self.staleness = np.asarray(staleness, dtype=np.int64)
        return history

    def _run_epoch(self, step, iterator, steps, saver, callbacks):
        """Schedule the epoch's `steps`, saving every `saver.every`; collect them."""
        results = []
        chunk = saver.every if saver else len(steps)
        for begin in range(0, len(steps), max(chunk, 1)):
            count = min(chunk, len(steps) - begin)
            results += [
                self.coordinator.schedule(step, args=(iterator,)) for _ in range(count)
            ]
            if saver:
                self.coordinator.join()
                saver.save(self.steps_completed + len(results))
        epoch_staleness = self._collect(results, callbacks)
        self.coordinator.join()
        self.steps_completed += len(results)
        return results, epoch_staleness

    def _checkpointer(self, directory, every):
        if directory is None and every is None:
            return None
        if getattr(self, "_saver", None) is None:
            variables = [v.value for v in self.model.variables]
            variables += [v.value for v in self.optimizer.variables]
            with self.strategy.scope():
                self._saver = StepCheckpoint(
                    [*variables, self._version], directory, every
                )
        return self._saver

    def _collect(self, results, callbacks):
        """Fetch each scheduled step's logs in order; returns their staleness."""
        running = np.zeros(4)
        staleness = []
        for index, remote in enumerate(results):
            callbacks.on_train_batch_begin(index)
            try:
                loss, correct, count, stale = (np.asarray(v) for v in remote.fetch())
            except tf.errors.UnavailableError:
                # The step finished (its update is on the parameter server),
                # but its worker died before we read its logs; the epoch
                # totals still include it.
                pass
            else:
                running += (float(loss) * float(count), correct, count, 0)
                staleness.append(int(stale))
            callbacks.on_train_batch_end(index, self._logs(running))
        return staleness

    def evaluate(self, x, y, *, batch_size=256, prefix=""):
        """Loss and accuracy of the model on `(x, y)`, in inference mode.

        Runs on the coordinator with the current parameter-server weights.

        Returns:
            A dict with `loss` and, for integer labels, `accuracy`
            (prefixed with `prefix`).
        """
        totals = np.zeros(4)
        for start in range(0, len(x), batch_size):
            xb = tf.convert_to_tensor(x[start : start + batch_size])
            yb = tf.convert_to_tensor(y[start : start + batch_size])
            y_pred = self.model(xb, training=False)
            loss = self._loss(xb, yb, y_pred, training=False)
            correct, count = _correct(yb, y_pred)
            totals += (float(loss) * float(count), float(correct), float(count), 0)
        return {prefix + k: v for k, v in self._logs(totals).items()}

    # -- internals --------------------------------------------------------
    def _loss(self, x, y, y_pred, training):
        if self.loss is not None:
            loss = self.loss(y, y_pred)
            if training and self.model.losses:
                loss = loss + tf.add_n(
                    [tf.cast(v, loss.dtype) for v in self.model.losses]
                )
            return loss
        return self.model.compute_loss(x=x, y=y, y_pred=y_pred, training=training)

    def _make_step(self):
        model, optimizer, version = self.model, self.optimizer, self._version

        def replica_fn(x, y):
            read = version.read_value()
            with tf.control_dependencies([read]):
                x = tf.identity(x)
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = self._loss(x, y, y_pred, training=True)
                # A LossScaleOptimizer (mixed_float16) scales here and
                # unscales in apply_gradients; other optimizers return loss.
                scaled = optimizer.scale_loss(loss)
            variables = model.trainable_variables
            grads = tape.gradient(scaled, variables)
            applied = optimizer.apply_gradients(zip(grads, variables))
            # The optimizer bumps its step counter after writing the weights;
            # reading it orders our own atomic counter after the write.
            with tf.control_dependencies([tf.identity(applied)]):
                written = version.assign_add(1, read_value=True)
            correct, count = _correct(y, y_pred)
            stale = written - read - 1
            # Epoch totals live on the parameter server: they survive the
            # death of the worker that ran this step.
            loss = tf.cast(loss, tf.float32)
            stats = tf.stack([loss * count, correct, count, tf.cast(stale, tf.float32)])
            self._totals.assign_add(tf.cast(stats, tf.float64))
            return loss, correct, count, stale

        @tf.function
        def step(iterator):
            x, y = next(iterator)
            return self.strategy.run(replica_fn, args=(x, y))

        return step

    @staticmethod
    def _logs(totals):
        loss_sum, correct, count, _ = totals
        logs = {"loss": loss_sum / max(count, 1.0)}
        if correct >= 0:
            logs["accuracy"] = correct / max(count, 1.0)
        return logs


def _correct(y, y_pred):
    """Correct predictions and count, or (-inf, count) when not a classifier."""
    count = tf.cast(tf.shape(y_pred)[0], tf.float32)
    if len(y_pred.shape) == 2 and len(y.shape) == 1 and y.dtype.is_integer:
        hits = tf.equal(tf.argmax(y_pred, axis=-1), tf.cast(y, tf.int64))
        return tf.reduce_sum(tf.cast(hits, tf.float32)), count
    return tf.constant(-np.inf, tf.float32), count


def _tf_variable(variable):
    return getattr(variable, "value", variable)


def _as_dataset_fn(x, y, dataset_fn, batch_size, steps_per_epoch, seed):
    if dataset_fn is not None:
        if not callable(dataset_fn):
            raise TypeError(
                "Expected dataset_fn to be a callable "
                "fn(input_context) -> tf.data.Dataset. Received: "
                f"dataset_fn={dataset_fn!r} of type {type(dataset_fn).__name__}"
            )
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(
                "steps_per_epoch is required with dataset_fn (the dataset "
                f"repeats). Received: steps_per_epoch={steps_per_epoch!r}"
            )
        return dataset_fn, steps_per_epoch
    if x is None or y is None:
        raise ValueError("Pass x and y, or dataset_fn. Received neither.")
    if len(x) != len(y):
        raise ValueError(
            f"x and y differ in length. Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    x, y = np.asarray(x), np.asarray(y)

    def numpy_dataset_fn(input_context):
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
        return (
            dataset.shuffle(len(x), seed=seed + input_context.input_pipeline_id)
            .repeat()
            .batch(batch_size)
            .prefetch(2)
        )

    steps = steps_per_epoch or math.ceil(len(x) / batch_size)
    return numpy_dataset_fn, steps
