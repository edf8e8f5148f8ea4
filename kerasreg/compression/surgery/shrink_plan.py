"""`plan_shrink`: which channel classes of a model `shrink` removes.

The analysis half of the surgery. From a `ChannelGraph` it finds the
channels whose BatchNormalization γ is dead and whose consumers can absorb
their constant output, keeps at least one channel per tensor, and
optionally rounds the kept widths to a multiple.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

from kerasreg.compression.surgery.channel_graph import (
    ChannelGraph,
    UnsupportedLayerError,
)

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

    def channels(self):
        """`{layer name: (channels before, channels after)}` per producer/BN."""
        out = {}
        for call in self.graph.calls:
            if call.kind in ("producer", "bn", "depthwise"):
                mask = self.keep[call.outputs[0]]
                out.setdefault(call.layer.name, (mask.size, int(mask.sum())))
        return out


def plan_shrink(model, threshold=0.0, strict=True, round_to=None):
    """Decide which channels `shrink` removes, without building anything.

    Args, Raises: as `shrink`.

    Returns:
        A `ShrinkPlan`.
    """
    if not threshold >= 0.0:
        raise ValueError(f"Expected threshold >= 0. Received: threshold={threshold}")
    graph = ChannelGraph(model)
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
