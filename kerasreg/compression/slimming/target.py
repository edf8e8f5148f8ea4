"""Slimming to a target: which channels to remove so `shrink` reaches a fraction.

`select_for_target` ranks every removable channel class by the largest |γ|
of its coupled BatchNormalization layers (the residual stream included),
and finds the smallest |γ| threshold at which `shrink` would remove the
requested fraction of parameters, MACs or BatchNormalization channels,
counted on the shrink plan (`ShrinkPlan.cost`) without building anything. `mark_for_target` zeroes
those γ. `NetworkSlimming(target=...)` uses both every epoch to steer
training toward the target (see `TargetSchedule`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

from kerasreg import metrics
from kerasreg._choices import TARGET_UNITS
from kerasreg.compression.slimming.channel_marking import (
    _coupled_scores,
    batchnorm_layers,
)

__all__ = [
    "TargetSelection",
    "TargetSchedule",
    "select_for_target",
    "mark_for_target",
    "UNITS",
]

UNITS = TARGET_UNITS


@dataclasses.dataclass
class TargetSelection:
    """The channels to remove to reach a target, per BatchNormalization layer.

    Attributes:
        masks: `{layer name: bool array}`, True for a channel to remove.
        threshold: the coupled |γ| at or below which channels go.
        removed: the fraction of the unit that `shrink` removes with them.
        unit: `"params"`, `"macs"` or `"channels"`.
    """

    masks: dict
    threshold: float
    removed: float
    unit: str

    def count(self):
        """Channels selected in all layers."""
        return int(sum(mask.sum() for mask in self.masks.values()))


def select_for_target(model, target, unit="params", layers=None, exact=True):
    """Choose the channels with the smallest |γ| that remove `target` of the model.

    Channels are ranked by the largest |γ| of all the BatchNormalization
    layers coupled to them (`mark_channels(coupled=True)`'s ranking), so
    residual-stream channels compete with block-internal ones. The removed
    fraction is measured on the shrink plan: parameters
    (`metrics.count_params`) or multiply-accumulates per example
    (`metrics.count_flops`).

    Args:
        model: a built functional or Sequential `keras.Model`; not modified.
        target: the fraction to remove, in (0, 1).
        unit: `"params"`, `"macs"` or `"channels"`. Defaults to `"params"`.
        layers: names of BatchNormalization layers to choose from; all by
            default.
        exact: count on the model `shrink` would build, where folding the
            removed channels' constants may keep a carrier channel or two.
            `False` counts from the γ alone, which is faster (no forward
            probe) and can fall a little short of the target. Defaults to
            `True`.

    Returns:
        A `TargetSelection` whose `removed` is the smallest fraction
        ≥ `target` that whole channel classes allow.

    Raises:
        ValueError: for a target outside (0, 1), an unknown unit, or a
            target beyond what `shrink` can remove from this model.

    Example:

    >>> from kerasreg import models
    >>> selection = select_for_target(models.cnn((8, 8, 1), 10), 0.5)
    >>> selection.removed >= 0.5
    True
    """
    from kerasreg.compression.surgery.shrink_plan import plan_shrink

    check_target(target, unit)
    bns = batchnorm_layers(model, layers)
    # A class goes at threshold t when all its coupled |γ| are <= t, that is
    # when its coupled score is.
    scores = _coupled_scores(model, bns, [_abs_gamma(bn) for bn in bns])
    candidates = np.unique(np.concatenate(scores))
    full = _full_count(model, unit, bns)

    def removed(i, settle):
        plan = plan_shrink(model, threshold=float(candidates[i]), strict=False)
        masks = _removed_masks(plan, bns)
        if not settle:
            return 1.0 - _kept(plan, unit, bns, settle=False) / full, masks
        # Settle on the model as marking leaves it, those γ at 0: folding
        # their constants may keep a carrier channel or two.
        originals = [ops.convert_to_numpy(bn.gamma) for bn in bns]
        try:
            _zero_gammas(bns, masks)
            kept = _kept(plan_shrink(model, strict=False), unit, bns)
        finally:
            for bn, gamma in zip(bns, originals):
                bn.gamma.assign(gamma)
        return 1.0 - kept / full, masks

    def search(low, settle):  # the smallest threshold that reaches the target
        high = len(candidates) - 1
        while low < high:
            mid = (low + high) // 2
            if removed(mid, settle)[0] >= target:
                high = mid
            else:
                low = mid + 1
        return low

    most, _ = removed(len(candidates) - 1, settle=False)
    if most < target:
        raise ValueError(
            f"shrink can remove at most {most:.1%} of the {_UNIT_NAMES[unit]} "
            f"of {model.name!r} (every tensor keeps one channel); "
            f"target={target} is out of reach."
        )
    low = search(0, settle=False)  # a lower bound: from the γ alone
    if exact:
        low = search(low, settle=True)
    fraction, masks = removed(low, settle=exact)
    if fraction < target:
        raise ValueError(
            f"shrink cannot remove {target:.1%} of the {_UNIT_NAMES[unit]} of "
            f"{model.name!r}: the constant channels it folds need carriers."
        )
    return TargetSelection(masks, float(candidates[low]), fraction, unit)


def mark_for_target(model, target, unit="params", layers=None):
    """Zero the γ of the channels `select_for_target` chooses, in place.

    Only γ is zeroed: such a channel outputs the constant act(β), which
    `shrink` folds into the layers that read it, so the model's output
    changes only by the removed channels' γ·x̂ terms (nothing at all where
    γ was already 0). After this, `shrink(model)` removes at least
    `target` of the unit.

    Returns:
        The `TargetSelection`.

    Example:

    >>> from kerasreg import models, metrics
    >>> from kerasreg.compression import shrink
    >>> model = models.cnn((8, 8, 1), 10)
    >>> selection = mark_for_target(model, 0.5)
    >>> small = shrink(model)
    >>> 1 - metrics.count_params(small) / metrics.count_params(model) >= 0.5
    True
    """
    selection = select_for_target(model, target, unit, layers)
    _zero_gammas(batchnorm_layers(model, layers), selection.masks)
    return selection


def check_target(target, unit):
    if unit not in UNITS:
        raise ValueError(
            f"Expected target_unit to be one of {', '.join(UNITS)}. "
            f"Received: target_unit={unit!r}"
        )
    if (
        isinstance(target, bool)
        or not isinstance(target, (int, float, np.floating))
        or not 0.0 < target < 1.0
    ):
        raise ValueError(
            "Expected target to be a fraction of the "
            f"{_UNIT_NAMES[unit]} to remove, in (0, 1). Received: target={target!r}"
        )


_UNIT_NAMES = {
    "params": "parameters",
    "macs": "multiply-accumulates (MACs)",
    "channels": "BatchNormalization channels",
}


def _full_count(model, unit, bns):
    """The whole model's count in `unit` (`bns`: the layers "channels" counts)."""
    if unit == "channels":
        return sum(int(bn.gamma.shape[0]) for bn in bns)
    return (metrics.count_params if unit == "params" else metrics.count_flops)(model)


def _kept(plan, unit, bns, settle=True):
    """What `plan`'s shrunk model keeps, in `unit`."""
    if unit != "channels":
        return plan.cost(settle=settle)[UNITS.index(unit)]
    if settle:
        plan.settle()
    removed = sum(int(mask.sum()) for mask in _removed_masks(plan, bns).values())
    return _full_count(None, unit, bns) - removed


def _abs_gamma(bn):
    return np.abs(ops.convert_to_numpy(bn.gamma))


def _zero_gammas(bns, masks):
    for bn in bns:
        mask = masks.get(bn.name)
        if mask is not None and mask.any():
            gamma = ops.convert_to_numpy(bn.gamma)
            bn.gamma.assign(np.where(mask, 0.0, gamma).astype(gamma.dtype))


def _removed_masks(plan, bns):
    tid_of = {
        id(call.layer): call.outputs[0]
        for call in plan.graph.calls
        if call.kind == "bn"
    }
    return {bn.name: ~plan.keep[tid_of[id(bn)]] for bn in bns if id(bn) in tid_of}


class TargetSchedule:
    """How `NetworkSlimming(target=...)` steers γ toward a target, epoch by epoch.

    1. At the end of every epoch before the deadline, the channels that
       `select_for_target` would remove now become the candidates, and their
       γ are shrunk toward zero by a soft threshold applied after each
       update (the proximal step of an L1 penalty on the candidates alone):
       γ ← sign(γ)·max(|γ| − τ, 0). τ follows a plan, the largest candidate
       falling linearly to zero at the deadline, with a feedback gain for
       how hard the data pushes back (see `_step`), so the step adapts to
       the optimizer, learning rate, data size and epochs, with no λ to
       tune. Candidates may change from epoch to
       epoch: a channel the data keeps large leaves the set.
    2. At the start of the deadline epoch, the channels that make up the
       target on the model `shrink` would build are chosen for the last time
       and their γ set to 0 (`mark_for_target`); by then they are small, so
       this barely changes the outputs. The sign-flip freeze, on from that
       epoch, keeps them at zero while the remaining epochs let the rest of
       the network adapt.
    3. At the end of training, if the frozen channels fall short of the
       target (a run resumed past the deadline), it marks again.

    Args:
        target: fraction to remove, in (0, 1).
        unit: `"params"`, `"macs"` or `"channels"`.
        layers: BatchNormalization names, or `None` for all.
    """

    def __init__(self, target, unit="params", layers=None):
        check_target(target, unit)
        self.target = float(target)
        self.unit = unit
        self.layers = layers
        self.masks = {}
        self.tau = None
        self.history = []
        self.reference, self.gain = None, 1.0

    @staticmethod
    def deadline(epochs, freeze_from_epoch):
        """The epoch from which the candidates are fixed at zero."""
        if freeze_from_epoch is not None:
            return freeze_from_epoch
        return max(1, int(round(2 * epochs / 3)))

    def reset(self):
        """Forget the variables of a previous `fit`."""
        self.masks, self.tau = {}, None
        self.reference, self.gain = None, 1.0

    def variables(self, bn, make_variable):
        """The (mask, τ) variables the constraint of `bn` reads."""
        if self.tau is None:
            self.tau = make_variable(0.0, "slimming_tau")
        mask = make_variable(
            np.zeros(bn.gamma.shape, "float32"), f"{bn.name}_candidate"
        )
        self.masks[bn.name] = mask
        return mask, self.tau

    def update(self, model, bns, epoch, deadline, steps):
        """Choose the candidates after `epoch` and set τ; returns the log entries."""
        if epoch < deadline:
            selection = select_for_target(
                model, self.target, self.unit, self.layers, exact=False
            )
            for bn in bns:
                mask = selection.masks.get(bn.name, np.zeros(bn.gamma.shape, bool))
                self.masks[bn.name].assign(mask.astype("float32"))
        largest = 0.0
        for bn in bns:
            mask = ops.convert_to_numpy(self.masks[bn.name]) > 0.5
            if mask.any():
                largest = max(largest, float(_abs_gamma(bn)[mask].max()))
        tau = self._step(largest, epoch, deadline) / max(1, steps)
        self.tau.assign(tau if epoch < deadline else 0.0)
        self.history.append(
            {"epoch": epoch, "largest_candidate": largest, "gain": self.gain}
        )
        return {"slimming/largest_candidate_gamma": largest}

    def _step(self, largest, epoch, deadline):
        """How far to shrink the largest candidate in the next epoch.

        The plan: the largest candidate |γ| falls linearly from its value
        after the first epoch to zero at the end of epoch `deadline - 1`.
        The data gradient pushes back by an amount that depends on the
        optimizer and the data, so the step is multiplied by a gain that
        doubles after each epoch that ended behind the plan and halves
        (down to 1) after each that kept to it.
        """
        if self.reference is None:
            self.reference = max(largest, 1e-12)
        span = max(1, deadline - 1)
        planned_now = self.reference * max(0.0, 1.0 - epoch / span)
        planned_next = self.reference * max(0.0, 1.0 - (epoch + 1) / span)
        if epoch > 0:
            behind = largest > planned_now + 0.05 * self.reference
            self.gain = self.gain * 2.0 if behind else max(1.0, self.gain / 2.0)
        return self.gain * max(0.0, largest - planned_next)

    def at_deadline(self, model, bns):
        """Zero the target's channels, chosen on the built model's count."""
        selection = mark_for_target(model, self.target, self.unit, self.layers)
        for bn in bns:
            mask = selection.masks.get(bn.name, np.zeros(bn.gamma.shape, bool))
            self.masks[bn.name].assign(mask.astype("float32"))
        self.tau.assign(0.0)

    def finish(self, model):
        """Mark again if `shrink` would remove less than the target."""
        from kerasreg.compression.surgery.shrink_plan import plan_shrink

        bns = batchnorm_layers(model, self.layers)
        kept = _kept(plan_shrink(model, strict=False), self.unit, bns)
        if 1.0 - kept / _full_count(model, self.unit, bns) < self.target:
            mark_for_target(model, self.target, self.unit, self.layers)
