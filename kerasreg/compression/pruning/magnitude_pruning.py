"""Magnitude pruning for Keras 3: the `MagnitudePruning` callback.

tensorflow-model-optimization cannot prune a Keras 3 model, so kerasreg
prunes natively, in tfmot's vocabulary (`ConstantSparsity`,
`PolynomialDecay`, `strip_pruning`). Instead of wrapping layers, the
`MagnitudePruning` callback gives every pruned kernel a mask variable and
installs `kernel * mask` as the kernel's constraint for the duration of
`fit`. Keras 3's optimizer applies variable constraints inside the compiled
train step, right after each update, so pruned weights stay exactly zero at
the cost of one multiply per kernel per step; masks are recomputed in Python
only at the schedule's pruning steps. The model itself is never changed:
after `fit` it is a plain model whose pruned weights are zero.
"""

from __future__ import annotations

import re

import keras
import numpy as np

from kerasreg.compression.pruning.schedules import (
    PruningSchedule,
)
from kerasreg.compression.pruning.sparsity import kernel_sparsity, select_layers

__all__ = ["MagnitudePruning"]

_MODES = ("layer", "global", "threshold", "N:M (e.g. '2:4')")


class _MaskConstraint(keras.constraints.Constraint):
    """`kernel * mask`, after the layer's own constraint if it has one."""

    def __init__(self, mask, inner=None):
        self.mask = mask
        self.inner = inner

    def __call__(self, w):
        if self.inner is not None:
            w = self.inner(w)
        return keras.ops.multiply(w, self.mask)


@keras.saving.register_keras_serializable(package="kerasreg")
class MagnitudePruning(keras.callbacks.Callback):
    """Prune the smallest-magnitude weights of a model while it trains.

    At each pruning step of `schedule`, the weights of every selected kernel
    are ranked by `|w|` and the lowest ones are set to zero and masked; the
    mask is applied inside the compiled train step after every optimizer
    update, so pruned weights stay zero while the others keep learning.
    Biases and normalization weights are never pruned. Only trainable
    kernels are considered, so a frozen teacher inside a distiller is left
    alone.

    Modes:

    - `"layer"`: each kernel is pruned to the schedule's sparsity.
    - `"global"`: one magnitude ranking over all selected kernels, so layers
      with many small weights lose more.
    - `"threshold"`: every weight with `|w| < threshold` is pruned (the
      slimming report's rule); the schedule, if given, only says when.
    - `"N:M"`, e.g. `"2:4"`: in every group of `M` consecutive weights along
      a kernel's input axis only the `N` largest survive (sparsity `1 - N/M`,
      the pattern sparse tensor cores run); the schedule only says when.

    With `threshold` and `N:M` modes and `schedule=None`, masks are computed
    once when training begins: prune, then retrain. When a fit starts after
    the schedule's `begin_step` (a pruned model trained further, or reloaded
    from a checkpoint), the weights that are exactly zero stay pruned until
    the next pruning step.

    Per-layer sparsity is added to the epoch logs as `sparsity/<layer>` and
    the overall one as `sparsity`, so it lands in `History` and, if this
    callback comes before `keras.callbacks.TensorBoard` in the list, in
    TensorBoard.

    Args:
        schedule: a `PruningSchedule` such as `PolynomialDecay(0, 0.8, 0,
            1000)`; required in `"layer"` and `"global"` modes.
        mode: `"layer"`, `"global"`, `"threshold"` or `"N:M"`. Defaults to
            `"layer"`.
        threshold: the magnitude under which weights are pruned in
            `"threshold"` mode.
        layers: which layers to prune: a list of layer names and/or layer
            classes. Defaults to every layer in `PRUNABLE_LAYERS`, nested
            models included.
        log_sparsity: add sparsity to the epoch logs. Defaults to `True`.

    Raises:
        ValueError: for an unknown mode, a missing schedule or threshold, or
            `layers` entries that match no prunable layer.

    Example:

    >>> from kerasreg.compression.pruning import PolynomialDecay, kernel_sparsity
    >>> data = kerasreg.load("digits")
    >>> model = kerasreg.training.compile_model(
    ...     kerasreg.models.build("cnn-tiny", (8, 8, 1), 10))
    >>> schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=40,
    ...                            frequency=10)
    >>> history = model.fit(data.x_train, data.y_train, epochs=2,
    ...                     callbacks=[MagnitudePruning(schedule)], verbose=0)
    >>> round(kernel_sparsity(model)["sparsity"], 2)
    0.8

    Reference:
        [Han et al., 2015](https://arxiv.org/abs/1506.02626);
        [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878);
        [Mishra et al., 2021 (2:4)](https://arxiv.org/abs/2104.08378)
    """

    def __init__(
        self,
        schedule=None,
        mode="layer",
        threshold=None,
        layers=None,
        log_sparsity=True,
    ):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        self.block = _parse_block(mode)
        if schedule is not None and not isinstance(schedule, PruningSchedule):
            raise ValueError(
                "Expected schedule to be a PruningSchedule such as "
                f"ConstantSparsity(0.8, begin_step=0). Received: schedule={schedule!r}"
            )
        if mode in ("layer", "global") and schedule is None:
            raise ValueError(
                f"mode={mode!r} needs a schedule, e.g. "
                "schedule=PolynomialDecay(0.0, 0.8, begin_step=0, end_step=1000). "
                "Received: schedule=None"
            )
        if mode == "threshold" and (threshold is None or threshold < 0):
            raise ValueError(
                "mode='threshold' needs a threshold >= 0 (weights with "
                f"|w| < threshold are pruned). Received: threshold={threshold}"
            )
        if mode != "threshold" and threshold is not None:
            raise ValueError(
                f"threshold is used only with mode='threshold'. Received: "
                f"mode={mode!r}, threshold={threshold}"
            )
        self.schedule = schedule
        self.mode = mode
        self.threshold = threshold
        self.layers = None if layers is None else list(layers)
        self.log_sparsity = log_sparsity
        self._targets = []  # (layer, kernel variable, mask variable, old constraint)

    # --- Keras hooks --------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        _check_strategy(model, self.schedule)
        self._step = int(model.optimizer.iterations.numpy())
        # Resuming past begin_step (a reloaded or re-fitted pruned model):
        # the kernels' zeros are the masks until the next pruning step.
        resumed = self.schedule is not None and self._step > self.schedule.begin_step
        self._targets = []
        with model.distribute_strategy.scope():
            for layer in select_layers(model, self.layers, self.block):
                kernel = layer.kernel
                value = np.asarray(kernel.numpy())
                mask = keras.Variable(
                    (value != 0) if resumed else np.ones(value.shape),
                    dtype=kernel.dtype,
                    trainable=False,
                    name=f"{layer.name}_pruning_mask",
                )
                self._targets.append((layer, kernel, mask, kernel.constraint))
                kernel.constraint = _MaskConstraint(mask, kernel.constraint)
        # fit() made its train function before calling us; make a fresh one
        # (traced on first use) so that the new constraints are compiled in.
        model.make_train_function(force=True)
        self._per_call = int(getattr(model, "steps_per_execution", 1) or 1)
        if self.schedule is None:
            self._update_masks(sparsity=None)

    def on_epoch_begin(self, epoch, logs=None):
        self._step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule is None:
            return
        steps = range(self._step, self._step + self._per_call)
        self._step += self._per_call
        due = [s for s in steps if self.schedule.is_pruning_step(s)]
        if due:
            self._update_masks(self.schedule.sparsity_at(due[-1]))

    def on_epoch_end(self, epoch, logs=None):
        if self.log_sparsity and logs is not None:
            logs.update(self.sparsity_logs())

    def on_train_end(self, logs=None):
        for _, kernel, _, constraint in self._targets:
            kernel.constraint = constraint
        # The next fit() traces a train function without the masks.
        self.model.train_function = None

    # --- masks ---------------------------------------------------------------

    def sparsity_logs(self):
        """`{"sparsity": overall, "sparsity/<layer>": ...}` of pruned kernels."""
        return kernel_sparsity(self.model, [t[0] for t in self._targets])

    def _update_masks(self, sparsity):
        kernels = [np.asarray(kernel.numpy()) for _, kernel, _, _ in self._targets]
        if self.mode == "global":
            magnitudes = np.concatenate([np.abs(k).ravel() for k in kernels])
            flat = _lowest_mask(magnitudes, sparsity)
            sizes = np.cumsum([0] + [k.size for k in kernels])
            masks = [
                flat[a:b].reshape(k.shape)
                for a, b, k in zip(sizes[:-1], sizes[1:], kernels)
            ]
        elif self.mode == "threshold":
            masks = [(np.abs(k) >= self.threshold) for k in kernels]
        elif self.block is not None:
            masks = [_block_mask(k, *self.block) for k in kernels]
        else:
            masks = [
                _lowest_mask(np.abs(k).ravel(), sparsity).reshape(k.shape)
                for k in kernels
            ]
        for (_, kernel, mask, _), new, value in zip(self._targets, masks, kernels):
            new = new.astype(value.dtype)
            mask.assign(new)
            kernel.assign(value * new)

    def get_config(self):
        schedule = self.schedule
        return {
            "schedule": None
            if schedule is None
            else keras.saving.serialize_keras_object(schedule),
            "mode": self.mode,
            "threshold": self.threshold,
            "layers": None
            if self.layers is None
            else [x if isinstance(x, str) else x.__name__ for x in self.layers],
            "log_sparsity": self.log_sparsity,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("layers"):
            config["layers"] = [
                getattr(keras.layers, x, x) if x[:1].isupper() else x
                for x in config["layers"]
            ]
        return cls(**config)


# --- helpers used by the callback and by users -----------------------------


def _parse_block(mode):
    if mode in ("layer", "global", "threshold"):
        return None
    match = re.fullmatch(r"(\d+):(\d+)", str(mode))
    if match:
        n, m = int(match[1]), int(match[2])
        if 0 < n < m:
            return n, m
    raise ValueError(
        f"Expected mode to be one of {', '.join(_MODES)} with 0 < N < M. "
        f"Received: mode={mode!r}"
    )


def _lowest_mask(magnitudes, sparsity):
    """Boolean keep-mask zeroing exactly the `n - round(n * (1 - s))` smallest.

    The count is tfmot's (`k = round(n * (1 - sparsity))` weights kept), and
    exactly that many are pruned even when magnitudes tie (a pruned model's
    zeros do), so the achieved sparsity is exact.
    """
    n = magnitudes.size
    n_prune = n - int(np.round(n * (1.0 - sparsity)))
    keep = np.ones(n, dtype=bool)
    if n_prune > 0:
        keep[np.argpartition(magnitudes, n_prune - 1)[:n_prune]] = False
    return keep


def _block_mask(kernel, n, m):
    """Keep the `n` largest of every `m` consecutive input weights per output."""
    columns = kernel.reshape(-1, kernel.shape[-1])  # (inputs, outputs)
    groups = np.abs(columns).T.reshape(columns.shape[1], -1, m)
    order = np.argsort(-groups, axis=-1, kind="stable")
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return keep.reshape(columns.shape[1], -1).T.reshape(kernel.shape)


def _check_strategy(model, schedule):
    """Refuse, before any step, masks that would change under async training."""
    import tensorflow as tf

    strategy = model.distribute_strategy
    if schedule is not None and isinstance(
        strategy, tf.distribute.experimental.ParameterServerStrategy
    ):
        raise ValueError(
            "MagnitudePruning with a schedule cannot run under "
            "ParameterServerStrategy: AsyncTrainer schedules an epoch's steps "
            "before their batch callbacks run, so masks recomputed during "
            "training would depend on timing. Prune with schedule=None "
            "(mode='threshold' or 'N:M': masks fixed when training begins), or "
            "under MirroredStrategy or MultiWorkerMirroredStrategy."
        )
