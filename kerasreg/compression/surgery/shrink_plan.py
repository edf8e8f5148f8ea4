"""`plan_shrink`: which channel classes of a model `shrink` removes.

The analysis half of the surgery. From a `ChannelGraph` it finds the
channels whose BatchNormalization γ is dead and whose consumers can absorb
their constant output, keeps at least one channel per tensor, and
optionally rounds the kept widths to a multiple.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from kerasreg import metrics
from kerasreg.compression.surgery.channel_graph import (
    ChannelGraph,
    UnsupportedLayerError,
)
from kerasreg.compression.surgery.constants import consumer_edits

__all__ = ["ShrinkPlan", "plan_shrink"]


@dataclasses.dataclass
class ShrinkPlan:
    """What `shrink` will do.

    Attributes:
        graph: the `ChannelGraph`.
        keep: `{tensor id: bool array}` of channels that stay.
        skipped: `[(layer name, reason)]` for dead channels left in place
            because an unsupported layer reads them (only with
            `strict=False`).
        const: `{tensor id: bool array}` of input-independent channels.
    """

    graph: ChannelGraph
    keep: dict
    skipped: list
    const: dict
    round_to: int | None = None
    edits: dict | None = None

    def settle(self):
        """Decide how removed constant channels reach their readers.

        Removed channels that still carry a constant are folded into a
        reader's bias or merged into one kept channel; where no kept channel
        can carry the merge, one of them stays. This may keep a few more
        channels than the γ alone say; `shrink` and `cost` call it, and it
        runs once per plan.
        """
        if self.edits is None:
            self.edits = consumer_edits(self)
        return self

    def round_widths(self):
        """Re-apply `round_to` after channels were un-removed."""
        if self.round_to is not None:
            _round_widths(self.graph, self.keep, self.round_to)

    def channels(self):
        """`{layer name: (channels before, channels after)}` per producer/BN."""
        out = {}
        for call in self.graph.calls:
            if call.kind in ("producer", "bn", "depthwise"):
                mask = self.keep[call.outputs[0]]
                out.setdefault(call.layer.name, (mask.size, int(mask.sum())))
        return out

    def cost(self, settle=True):
        """`(params, macs)` of the model `shrink` will build, without building it.

        Parameters count every weight (as `metrics.count_params`), MACs one
        forward pass on one example (as `metrics.count_flops`). Layers
        whose channels do not change keep their cost. With `settle=True`
        the plan is settled first (`settle`), so the figures are those of
        the built model; `settle=False` skips that probe (a forward pass)
        and counts from the γ alone, a lower bound on what stays.

        Example:

        >>> from kerasreg import models, metrics
        >>> model = models.cnn((8, 8, 1), 10)
        >>> plan_shrink(model).cost() == (
        ...     metrics.count_params(model), metrics.count_flops(model))
        True
        """
        if settle:
            self.settle()
        params = macs = 0
        seen = set()
        for call in self.graph.calls:
            f_in, f_out = self._fraction(call.inputs), self._fraction(call.outputs)
            if id(call.layer) not in seen:
                seen.add(id(call.layer))
                params += _kept_params(call, f_in, f_out)
            macs += _kept_macs(call, self.graph.shapes, f_in, f_out)
        return int(round(params)), int(round(macs))

    def _fraction(self, tids):
        if not tids or tids[0] not in self.keep or not self.keep[tids[0]].size:
            return 1.0
        mask = self.keep[tids[0]]
        return float(mask.sum()) / mask.size


def plan_shrink(model, threshold=0.0, strict=True, round_to=None):
    """Decide which channels `shrink` removes, without building anything.

    Args, Raises: as `shrink`.

    Returns:
        A `ShrinkPlan`.
    """
    if not threshold >= 0.0:
        raise ValueError(f"Expected threshold >= 0. Received: threshold={threshold}")
    graph = ChannelGraph(model)
    _check_has_batchnorm(graph)
    n = sum(labels.size for labels in graph.labels.values())
    has_bn = np.zeros(n, bool)
    all_dead = np.ones(n, bool)
    consumers_const = np.ones(n, bool)
    fixed = np.zeros(n, bool)
    blocker = {}
    const = _constancy(graph, threshold)

    for tid in graph.inputs + graph.outputs:
        fixed[graph.labels[tid]] = True
    for call in graph.calls:
        if call.kind == "bn":
            labels = graph.labels[call.outputs[0]]
            has_bn[labels] = True
            all_dead[labels[~_dead(call.layer, threshold)]] = False
        elif call.kind == "producer":
            for tid in call.inputs:
                consumers_const[graph.labels[tid][~const[tid]]] = False
        elif call.kind == "unsupported":
            for tid in call.inputs + call.outputs:
                labels = graph.labels[tid]
                fixed[labels] = True
                for label in labels:
                    blocker.setdefault(int(label), (call.layer.name, call.reason))
    candidate = has_bn & all_dead & consumers_const
    removable = candidate & ~fixed

    skipped = []
    for label in np.flatnonzero(candidate & fixed):
        if int(label) in blocker:
            skipped.append(blocker[int(label)])
    skipped = sorted(set(skipped))
    if skipped and strict:
        name, reason = skipped[0]
        raise UnsupportedLayerError(
            f"Cannot shrink through layer {name!r}: {reason}. It reads channels "
            "whose BatchNormalization γ are all dead, and removing them there "
            "is not safe. Pass strict=False to leave those channels in place."
        )
    keep = {tid: ~removable[labels] for tid, labels in graph.labels.items()}
    _keep_one_per_tensor(graph, keep, removable)
    if round_to is not None:
        _round_widths(graph, keep, round_to)
    return ShrinkPlan(graph, keep, skipped, const, round_to)


def _check_has_batchnorm(graph):
    """Refuse a model with no BatchNormalization γ: nothing could be removed."""
    name = graph.model.name
    bns = [call.layer for call in graph.calls if call.kind == "bn"]
    if any(bn.scale for bn in bns):
        return
    if bns:
        raise ValueError(
            f"Model {name!r} has {len(bns)} BatchNormalization layers, all with "
            "scale=False, so there is no γ to tell dead channels by and shrink "
            "would return the same model. (Keras's InceptionV3 and "
            "InceptionResNetV2 are built this way, as in their papers.) Rebuild "
            "it with scale=True and train with NetworkSlimming."
        )
    others = sorted(
        {
            type(call.layer).__name__
            for call in graph.calls
            if isinstance(
                call.layer,
                (keras.layers.LayerNormalization, keras.layers.GroupNormalization),
            )
        }
    )
    if others:
        raise ValueError(
            f"Model {name!r} normalizes with {' and '.join(others)}, not "
            "BatchNormalization. shrink removes a channel whose BatchNormalization "
            f"γ is 0; {others[0]} computes its statistics over several channels, "
            "so removing one changes the others' outputs and cannot be done "
            "exactly. Slim a model with BatchNormalization, or prune weights "
            "with MagnitudePruning."
        )
    raise ValueError(
        f"Model {name!r} has no BatchNormalization layer, so shrink has no γ to "
        "tell dead channels by and would return the same model. Add "
        "BatchNormalization after the convolutions and train with "
        "NetworkSlimming, or prune weights with MagnitudePruning."
    )


def _kept_params(call, f_in, f_out):
    layer = call.layer
    weights = getattr(layer, "weights", [])
    if call.kind == "bn":
        return sum(np.prod(w.shape) for w in weights) * f_out
    if call.kind not in ("producer", "depthwise"):
        return sum(np.prod(w.shape) for w in weights)
    total = 0.0
    for w in weights:
        n = float(np.prod(w.shape))
        if len(w.shape) == 1:  # bias
            total += n * f_out
        elif call.kind == "depthwise" or w is getattr(layer, "depthwise_kernel", None):
            total += n * f_in
        else:
            total += n * f_in * f_out
    return total


def _kept_macs(call, shapes, f_in, f_out):
    layer = call.layer
    if call.kind not in ("producer", "depthwise") or not call.inputs:
        return 0.0
    macs = metrics.layer_call_macs(
        layer, shapes[call.inputs[0]], shapes[call.outputs[0]]
    )
    if call.kind == "depthwise":
        return macs * f_in
    if isinstance(layer, keras.layers.SeparableConv2D):
        positions = int(np.prod(shapes[call.outputs[0]][1:-1]))
        depthwise = positions * shapes[call.inputs[0]][-1] * layer.depth_multiplier
        depthwise *= int(np.prod(layer.kernel_size))
        return depthwise * f_in + (macs - depthwise) * f_in * f_out
    return macs * f_in * f_out


def _dead(bn, threshold):
    if not bn.scale:
        return np.zeros(bn.moving_mean.shape[0], bool)
    return np.abs(ops.convert_to_numpy(bn.gamma)) <= threshold


def _constancy(graph, threshold):
    """Which channels of each tensor are input-independent."""
    const = {tid: np.zeros(labels.size, bool) for tid, labels in graph.labels.items()}
    for call in graph.calls:
        ins = [const[tid] for tid in call.inputs]
        out = call.outputs[0]
        if call.kind == "bn":
            const[out] = ins[0] | _dead(call.layer, threshold)
        elif call.kind == "pass":
            const[out] = ins[0].copy()
        elif call.kind == "depthwise":
            const[out] = np.repeat(ins[0], call.layer.depth_multiplier)
        elif call.kind == "merge":
            const[out] = np.logical_and.reduce(ins)
        elif call.kind == "concat":
            const[out] = np.concatenate(ins)
        elif call.kind == "flatten":
            const[out] = np.tile(ins[0], const[out].size // ins[0].size)
    return const


def _keep_one_per_tensor(graph, keep, removable):
    """A layer cannot have zero channels: keep one class where all would go."""
    changed = True
    while changed:
        changed = False
        for tid, mask in keep.items():
            if mask.size and not mask.any():
                label = graph.labels[tid][0]
                removable[label] = False
                changed = True
                for other, labels in graph.labels.items():
                    keep[other] = keep[other] | (labels == label)


def _round_widths(graph, keep, multiple):
    """Un-remove channel classes until producer widths are multiples."""
    for _ in range(4 * len(graph.calls) + 1):
        changed = False
        for call in graph.calls:
            if call.kind != "producer":
                continue
            tid = call.outputs[0]
            mask, labels = keep[tid], graph.labels[tid]
            kept = int(mask.sum())
            short = -kept % multiple
            if not short or mask.size < multiple or kept == mask.size:
                continue
            for label in list(dict.fromkeys(labels[~mask].tolist()))[:short]:
                for other, other_labels in graph.labels.items():
                    keep[other] = keep[other] | (other_labels == label)
            changed = True
        if not changed:
            return
    raise RuntimeError("shrink: round_to did not converge")
