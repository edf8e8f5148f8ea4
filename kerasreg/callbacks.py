"""Early stopping with a check period in steps and a cumulative count.

Keras's `EarlyStopping` checks once per epoch and stops after `patience`
*consecutive* checks without improvement. The notes describe two more
knobs:

- the regularization notes (早期終了のアルゴリズム, 周期): the check period is a number of
  parameter updates, not an epoch — `check_every_n_steps`;
- the deep-learning notes (一般的な手順): count every check at which the error did not
  fall below the previous check's, and stop once the *total* count reaches
  the limit — `count="cumulative"`.
"""

from __future__ import annotations

import keras

__all__ = ["EarlyStopping", "COUNTS"]

COUNTS = ("consecutive", "cumulative")


@keras.saving.register_keras_serializable(package="kerasreg")
class EarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` with step-period checks and cumulative patience.

    With the defaults this behaves exactly like Keras's callback. Two
    arguments extend it:

    `check_every_n_steps=N` checks every N training steps (counted across
    epochs) instead of at epoch ends. A `val_*` monitor is then computed by
    evaluating `validation_data` (the training metrics of the running
    epoch are saved and restored around the evaluation, so the epoch logs
    stay correct); any other monitor is read from the batch logs. Training
    stops mid-epoch; `stopped_step` records where. `start_from_epoch`
    still counts epochs.

    `count="cumulative"` counts every check whose value fails to improve
    (by `min_delta`) on the *previous* check, without resetting, and stops
    when the count reaches `patience` (the deep-learning notes). `count="consecutive"`
    is Keras's rule: non-improvements on the best value so far, reset by
    every improvement. In both modes `best`, `best_weights` and
    `restore_best_weights` refer to the best value seen.

    Args:
        monitor: quantity to monitor. Defaults to `"val_loss"`.
        min_delta: minimum change that counts as an improvement. Defaults
            to `0`.
        patience: number of counted checks that stops training, `>= 0`.
            Defaults to `0`.
        verbose: 0 or 1. Defaults to `0`.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        baseline: see `keras.callbacks.EarlyStopping`. Defaults to `None`.
        restore_best_weights: restore the weights of the best check at the
            end of training. Defaults to `False`.
        start_from_epoch: epochs to run before checking. Defaults to `0`.
        check_every_n_steps: check period in training steps, `>= 1`, or
            `None` to check at epoch ends. Defaults to `None`.
        count: `"consecutive"` or `"cumulative"`. Defaults to
            `"consecutive"`.
        validation_data: `(x, y)`, `(x, y, sample_weight)` or a dataset,
            evaluated at each step check of a `val_*` monitor. Not part of
            the config. Defaults to `None`.
        validation_batch_size: batch size of those evaluations. Defaults
            to `None` (Keras's 32).

    Raises:
        ValueError: for a negative `patience`, `check_every_n_steps < 1`
            or an unknown `count`; at the start of `fit`, for a `val_*`
            monitor checked by steps without `validation_data`.

    Example:

    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.training.compile_model(
    ...     kerasreg.models.build("cnn-tiny", (8, 8, 1), 10))
    >>> stop = EarlyStopping(patience=3, count="cumulative",
    ...                      check_every_n_steps=5,
    ...                      validation_data=(data.x_test, data.y_test))
    >>> history = model.fit(data.x_train, data.y_train, epochs=2,
    ...                     callbacks=[stop], verbose=0)
    >>> len(stop.history)  # 2 epochs of 45 steps (batch 32), a check every 5
    18
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
        check_every_n_steps=None,
        count="consecutive",
        validation_data=None,
        validation_batch_size=None,
    ):
        if patience < 0:
            raise ValueError(f"Expected patience >= 0. Received: patience={patience}")
        if check_every_n_steps is not None and (
            isinstance(check_every_n_steps, bool)
            or not isinstance(check_every_n_steps, int)
            or check_every_n_steps < 1
        ):
            raise ValueError(
                "Expected check_every_n_steps to be an integer >= 1 or None. "
                f"Received: check_every_n_steps={check_every_n_steps!r}"
            )
        if count not in COUNTS:
            raise ValueError(
                f"Unknown count: count={count!r}. Expected 'consecutive' or "
                "'cumulative'."
            )
        super().__init__(
            monitor=monitor,
            min_delta=min_delta,
            patience=patience,
            verbose=verbose,
            mode=mode,
            baseline=baseline,
            restore_best_weights=restore_best_weights,
            start_from_epoch=start_from_epoch,
        )
        self._min_delta_arg = min_delta
        self.check_every_n_steps = check_every_n_steps
        self.count = count
        self.validation_data = validation_data
        self.validation_batch_size = validation_batch_size

    def on_train_begin(self, logs=None):
        if (
            self.check_every_n_steps is not None
            and self.monitor.startswith("val_")
            and self.validation_data is None
        ):
            raise ValueError(
                f"monitor={self.monitor!r} checked every "
                f"{self.check_every_n_steps} steps needs "
                "validation_data=(x_val, y_val) to evaluate on."
            )
        super().on_train_begin(logs)
        self.previous = None
        self.stopped_step = 0
        self.history = []  # (epoch, step, value) of every check
        self._epoch = 0
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.check_every_n_steps is not None:
            return
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.history.append((epoch, self._step, float(current)))
        self._update(current, epoch, first=epoch == 0)
        if self.model.stop_training:
            self.stopped_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.check_every_n_steps is None:
            return
        if self._step % self.check_every_n_steps or self._epoch < self.start_from_epoch:
            return
        if self.monitor.startswith("val_"):
            current = self._evaluate()
        else:
            current = self.get_monitor_value(logs)
        if current is None:
            return
        self.history.append((self._epoch, self._step, float(current)))
        self._update(current, self._epoch, first=len(self.history) == 1)
        if self.model.stop_training:
            self.stopped_epoch = self._epoch
            self.stopped_step = self._step
            if self.verbose > 0:
                print(f"\nStep {self._step}: early stopping")

    def _update(self, current, epoch, first):
        """One check: Keras's rule, or the deep-learning notes' cumulative count."""
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        if self.count == "consecutive":
            counted = True  # Keras: count, then reset on an improvement
        else:
            worse_than_previous = self.previous is not None and not (
                self._is_improvement(current, self.previous)
            )
            under_baseline = self.baseline is not None and not (
                self._is_improvement(current, self.baseline)
            )
            counted = worse_than_previous or under_baseline
        self.wait += int(counted)
        self.previous = current
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.count == "consecutive":
                if self.baseline is None or self._is_improvement(
                    current, self.baseline
                ):
                    self.wait = 0
                return
        if counted and self.wait >= self.patience and not first:
            self.model.stop_training = True

    def _evaluate(self):
        model = self.model
        saved = [variable.numpy() for variable in model.metrics_variables]
        data = self.validation_data
        kwargs = {"verbose": 0, "return_dict": True}
        if isinstance(data, (tuple, list)):
            x, y, *weights = data
            results = model.evaluate(
                x,
                y,
                sample_weight=weights[0] if weights else None,
                batch_size=self.validation_batch_size,
                **kwargs,
            )
        else:
            results = model.evaluate(data, **kwargs)
        for variable, value in zip(model.metrics_variables, saved):
            variable.assign(value)
        return self.get_monitor_value(
            {f"val_{name}": value for name, value in results.items()}
        )

    def get_config(self):
        return {
            "monitor": self.monitor,
            "min_delta": self._min_delta_arg,
            "patience": self.patience,
            "verbose": self.verbose,
            "mode": self.mode,
            "baseline": self.baseline,
            "restore_best_weights": self.restore_best_weights,
            "start_from_epoch": self.start_from_epoch,
            "check_every_n_steps": self.check_every_n_steps,
            "count": self.count,
            "validation_batch_size": self.validation_batch_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
