"""Network slimming: an L1 penalty on BatchNormalization scales γ.

`NetworkSlimming` is a Keras callback that adds λ·Σ|γ| over the selected
BatchNormalization layers to the training objective and, from a chosen epoch
on, pins to exactly zero every γ whose sign flips in an update (the rule of
the slimming seed, `003`). A channel whose γ is zero outputs the constant β
and can be removed from the network by `kerasreg.compression.shrink`.

Everything runs inside the compiled train step: the penalty is a variable
regularizer (collected by `model.losses`), and the freeze is a variable
constraint, which Keras's optimizer applies in-graph right after each update.
So the zero survives momentum, weight decay and every later update, and the
callback costs almost nothing per step.

`mark_channels` (in `channel_marking.py`) offers Liu et al.'s route
instead: after training, mark the channels whose |γ| falls below a global
percentile or an absolute threshold, with a per-layer cap so that no layer
vanishes.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from kerasreg.compression.slimming.advice import lambda_advice
from kerasreg.compression.slimming.channel_marking import (
    _check_marking,
    batchnorm_layers,
    mark_channels,
)
from kerasreg.compression.slimming.target import TargetSchedule

__all__ = ["NetworkSlimming", "GammaL1Regularizer", "SignFlipFreeze"]


@keras.saving.register_keras_serializable(package="kerasreg")
class GammaL1Regularizer(keras.regularizers.Regularizer):
    """λ·Σ|γ|, the sparsity penalty of network slimming.

    Identical to `keras.regularizers.L1`, named for its role so that it is
    recognisable in configs and summaries.

    Args:
        l1: the penalty strength λ ≥ 0.
    """

    def __init__(self, l1):
        _check_l1(l1)
        self.l1 = float(l1)

    def __call__(self, x):
        return self.l1 * ops.sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class SignFlipFreeze(keras.constraints.Constraint):
    """Pin to zero every γ whose sign flipped in the last update.

    Applied by the optimizer right after each update. It remembers the value
    of the previous step in a non-trainable variable; while `active` is 1, a
    channel whose new value has the opposite sign of its previous value, or
    whose previous value is exactly zero (already frozen), is set to 0.

    With `mask` and `tau` (target mode), the masked channels are first
    shrunk toward zero by the soft threshold τ: γ ← sign(γ)·max(|γ| − τ, 0),
    the proximal step of an L1 penalty on those channels alone.

    This constraint holds training state and is attached to a variable by
    `NetworkSlimming`; it is not meant to be serialized with a model.
    """

    def __init__(self, previous, active, mask=None, tau=None):
        self.previous = previous
        self.active = active
        self.mask = mask
        self.tau = tau

    def __call__(self, w):
        if self.mask is not None:
            shrunk = ops.maximum(ops.abs(w) - self.tau * self.mask, 0.0)
            w = ops.sign(w) * shrunk
        flipped = ops.less(w * self.previous, 0.0)
        frozen = ops.equal(self.previous, 0.0)
        pin = ops.logical_and(ops.logical_or(flipped, frozen), self.active > 0.5)
        new = ops.where(pin, ops.zeros_like(w), w)
        self.previous.assign(new)
        return new


@keras.saving.register_keras_serializable(package="kerasreg")
class NetworkSlimming(keras.callbacks.Callback):
    """Train with an L1 penalty on BatchNormalization γ and freeze sign flips.

    Adds λ·Σ|γ| over the selected BatchNormalization layers to the loss. From
    epoch `freeze_from_epoch` on (0-based, as Keras counts epochs), any γ
    whose sign flips in an update is set to exactly 0 and stays 0 for the
    rest of training. Channels with γ = 0 output the constant β and are
    removed by `kerasreg.compression.shrink`.

    Each epoch it writes `dead_channels` (the total) and
    `dead_channels/<layer>` to the logs, so they appear in `History` and, if
    this callback comes before `keras.callbacks.TensorBoard` in the list, in
    TensorBoard. `gamma_history` keeps |γ| of every layer at each epoch end
    for plots.

    The penalty and freeze are attached when training begins and detached
    when it ends, so the model saved afterwards is a plain Keras model. On a
    resumed run (for example after reloading a `.keras` checkpoint and
    calling `fit(..., initial_epoch=k)` with `k >= freeze_from_epoch`), every
    γ that is exactly zero is taken as frozen, so the frozen set survives a
    save and reload.

    Target mode: `NetworkSlimming(target=0.7)` needs no λ. It steers
    training so that `shrink` removes 70% of the parameters (or of the MACs
    with `target_unit="macs"`): every epoch it picks the channels with the
    smallest coupled |γ| that make up the target and shrinks their γ toward
    zero on a schedule that reaches zero at `freeze_from_epoch` (2/3 of the
    epochs by default), then freezes them, and marks them at the end (see
    `TargetSchedule`). Plain λ mode cannot promise a size: whether γ reaches
    zero depends on λ times the learning rate and the number of updates; if
    nothing would be removed at the end of training, or nearly everything
    (more than 90% of the channels, or a whole layer), it warns and
    suggests a λ or a target.

    Args:
        l1: the penalty strength λ ≥ 0. The seed sweeps 0 to 1e-3. Pass
            either `l1` or `target`.
        freeze_from_epoch: first epoch (0-based) of the sign-flip freeze;
            `None` never freezes (in target mode: 2/3 of the epochs).
            Defaults to `None`.
        layers: names of the BatchNormalization layers to act on; all
            trainable BN layers, nested ones included, by default.
        prune_ratio: Liu et al.'s route: at the end of training, zero γ and
            β of this global fraction of channels with the smallest |γ|.
            Defaults to `None` (off).
        prune_threshold: like `prune_ratio`, but marks |γ| below an absolute
            threshold. Defaults to `None` (off).
        max_prune_per_layer: cap on the fraction of any one layer's channels
            that `prune_ratio` / `prune_threshold` may mark. Defaults to
            `0.9`.
        prune_coupled: rank channels by the largest |γ| of all coupled
            BatchNormalization layers when marking (see `mark_channels`).
            Defaults to `False`.
        target: fraction of the model to remove, in (0, 1), instead of a
            fixed `l1`. Defaults to `None`.
        target_unit: what `target` counts: `"params"` (parameters),
            `"macs"` (multiply-accumulates per example) or `"channels"`
            (BatchNormalization channels, as Liu et al. count "70% of the
            channels pruned"). Defaults to `"params"`.

    Example:

    >>> from kerasreg import models, training
    >>> model = training.compile_model(models.cnn((8, 8, 1), 10))
    >>> x = np.random.rand(32, 8, 8, 1).astype("float32")
    >>> y = np.random.randint(0, 10, 32)
    >>> slim = NetworkSlimming(l1=1e-4, freeze_from_epoch=1)
    >>> _ = model.fit(x, y, epochs=2, callbacks=[slim], verbose=0)
    >>> "dead_channels" in model.history.history
    True

    Reference:
        Liu et al., Learning Efficient Convolutional Networks through
        Network Slimming, ICCV 2017. https://arxiv.org/abs/1708.06519
    """

    def __init__(
        self,
        l1=None,
        freeze_from_epoch=None,
        layers=None,
        prune_ratio=None,
        prune_threshold=None,
        max_prune_per_layer=0.9,
        prune_coupled=False,
        target=None,
        target_unit="params",
    ):
        super().__init__()
        _check_mode(l1, target, prune_ratio, prune_threshold)
        if target is not None:
            self.schedule = TargetSchedule(target, target_unit, layers)
        else:
            _check_l1(l1)
            self.schedule = None
        if freeze_from_epoch is not None and (
            not isinstance(freeze_from_epoch, (int, np.integer))
            or freeze_from_epoch < 0
        ):
            raise ValueError(
                "Expected freeze_from_epoch to be None or an int >= 0. "
                f"Received: freeze_from_epoch={freeze_from_epoch!r}"
            )
        _check_marking(prune_ratio, prune_threshold, max_prune_per_layer)
        self.l1 = float(l1) if l1 is not None else None
        self.target = target
        self.target_unit = target_unit
        self.freeze_from_epoch = freeze_from_epoch
        self.layers = list(layers) if layers is not None else None
        self.prune_ratio = prune_ratio
        self.prune_threshold = prune_threshold
        self.max_prune_per_layer = max_prune_per_layer
        self.prune_coupled = bool(prune_coupled)
        self.gamma_history = []
        self._attached = []
        self._active = None
        self._first_epoch = True

    def get_config(self):
        return {
            "l1": self.l1,
            "freeze_from_epoch": self.freeze_from_epoch,
            "layers": self.layers,
            "prune_ratio": self.prune_ratio,
            "prune_threshold": self.prune_threshold,
            "max_prune_per_layer": self.max_prune_per_layer,
            "prune_coupled": self.prune_coupled,
            "target": self.target,
            "target_unit": self.target_unit,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- training hooks -------------------------------------------------

    def on_train_begin(self, logs=None):
        epochs = self.params.get("epochs") if self.params else None
        if (
            self.freeze_from_epoch is not None
            and epochs is not None
            and self.freeze_from_epoch >= epochs
        ):
            raise ValueError(
                f"freeze_from_epoch={self.freeze_from_epoch} is past the last "
                f"epoch of this fit (epochs={epochs}, counted from 0), so no γ "
                "would ever be frozen. Use a smaller freeze_from_epoch or more "
                "epochs."
            )
        self._bn_layers = batchnorm_layers(self.model, self.layers)
        self._freeze_epoch = self.freeze_from_epoch
        if self.schedule is not None:
            self._freeze_epoch = self.schedule.deadline(
                epochs or 1, self.freeze_from_epoch
            )
        self._steps = self.params.get("steps") if self.params else None
        self._updates = self._counted = 0
        self._lr_sum = 0.0
        self._attach()
        self._first_epoch = True
        # Rebuild the train step so the penalty and freeze are traced into it.
        self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        active = self._freeze_epoch is not None and epoch >= self._freeze_epoch
        deadline = self.schedule is not None and epoch == self._freeze_epoch
        if deadline:
            self.schedule.at_deadline(self.model, self._bn_layers)
        if active and (self._first_epoch or deadline):
            # Resuming past the freeze epoch, or the target's channels just
            # zeroed: exact zeros are frozen channels.
            for bn, constraint in self._attached:
                constraint.previous.assign(bn.gamma)
        self._first_epoch = False
        self._active.assign(1.0 if active else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        gammas = {
            bn.name: np.abs(ops.convert_to_numpy(bn.gamma)) for bn in self._bn_layers
        }
        self.gamma_history.append(gammas)
        self._updates = (epoch + 1) * (self._steps or 0) or self._updates
        steps_this_epoch = self._updates - self._counted
        self._counted = self._updates
        self._lr_sum += _current_lr(self.model) * steps_this_epoch
        entries = {}
        if self.schedule is not None:
            steps = self._steps or self._updates // (epoch + 1)
            entries = self.schedule.update(
                self.model, self._bn_layers, epoch, self._freeze_epoch, steps
            )
        if logs is None:
            return
        logs.update(entries)
        total = 0
        for name, values in gammas.items():
            count = int(np.sum(values == 0.0))
            logs[f"dead_channels/{name}"] = count
            total += count
        logs["dead_channels"] = total

    def on_train_end(self, logs=None):
        self._detach()
        self.model.train_function = None
        if self.schedule is not None:
            self.schedule.finish(self.model)
        elif self.prune_ratio is None and self.prune_threshold is None:
            advice = lambda_advice(self.model, self.layers, self.l1, self._lr_sum)
            if advice:
                warnings.warn(advice, stacklevel=2)
        if self.prune_ratio is not None or self.prune_threshold is not None:
            mark_channels(
                self.model,
                prune_ratio=self.prune_ratio,
                threshold=self.prune_threshold,
                max_per_layer=self.max_prune_per_layer,
                layers=self.layers,
                coupled=self.prune_coupled,
            )

    # -- attaching ------------------------------------------------------

    def _attach(self):
        self._detach()
        strategy = getattr(self.model, "distribute_strategy", None)
        scope = strategy.scope() if strategy is not None else _null_scope()
        with scope:
            self._active = self._variable(0.0, "slimming_active")
            if self.schedule is not None:
                self.schedule.reset()
            for bn in self._bn_layers:
                gamma = bn.gamma
                if gamma.constraint is not None or gamma.regularizer is not None:
                    raise ValueError(
                        f"Layer {bn.name!r} already has a gamma constraint or "
                        "regularizer; NetworkSlimming needs γ free of both."
                    )
                previous = keras.Variable(
                    ops.convert_to_numpy(gamma),
                    trainable=False,
                    name=f"{bn.name}_previous_gamma",
                    aggregation="only_first_replica",
                )
                extra = ()
                if self.schedule is not None:
                    extra = self.schedule.variables(bn, self._variable)
                constraint = SignFlipFreeze(previous, self._active, *extra)
                if self.l1:
                    gamma.regularizer = GammaL1Regularizer(self.l1)
                gamma.constraint = constraint
                self._attached.append((bn, constraint))

    def on_train_batch_end(self, batch, logs=None):
        if self._steps is None:  # a dataset of unknown length: count updates
            self._updates += 1

    def _variable(self, value, name):
        return keras.Variable(
            value, trainable=False, name=name, aggregation="only_first_replica"
        )

    def _detach(self):
        for bn, _ in self._attached:
            bn.gamma.regularizer = None
            bn.gamma.constraint = None
        self._attached = []


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _current_lr(model):
    optimizer = getattr(model, "optimizer", None)
    try:
        return float(ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return 0.0


def _check_mode(l1, target, prune_ratio, prune_threshold):
    if (l1 is None) == (target is None):
        raise ValueError(
            "Pass either l1 (a fixed penalty λ) or target (the fraction of the "
            f"model to remove). Received: l1={l1!r}, target={target!r}"
        )
    if target is not None and (prune_ratio is not None or prune_threshold is not None):
        raise ValueError(
            "target marks the channels itself at the end of training; do not "
            "combine it with prune_ratio or prune_threshold."
        )


def _check_l1(l1):
    if not isinstance(l1, (int, float, np.floating, np.integer)) or not l1 >= 0:
        raise ValueError(f"Expected l1 >= 0. Received: l1={l1!r}")
