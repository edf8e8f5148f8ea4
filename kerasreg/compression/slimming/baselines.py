"""The controls that say whether slimming's channel selection is worth it.

`match_widths(model, reference, criterion)` marks, in `model`, as many
channels as `reference` (a slimmed and marked model of the same
architecture) has dead in every layer, but chooses them by another rule:

- `"random"`: uniformly at random (seeded);
- `"l1"`: the filters with the smallest L1 norm of their kernel (Li et al.
  2017, "Pruning Filters for Efficient ConvNets");
- `"gamma"`: the smallest |γ| of `model` itself (global-percentile γ
  pruning without the L1 penalty, when `model` was trained plainly).

Channels coupled across residual Adds are chosen together, as `shrink`
removes them: a stream's score is the sum over the convolutions writing
into it (`"l1"`) or the largest |γ| on it (`"gamma"`). `shrink(model)` then
builds a model with the reference's widths.

Reference:
    Li et al., Pruning Filters for Efficient ConvNets, ICLR 2017.
    https://arxiv.org/abs/1608.08710
"""

from __future__ import annotations

import numpy as np
from keras import ops

__all__ = ["match_widths", "CRITERIA"]

CRITERIA = ("random", "l1", "gamma")


def match_widths(model, reference, criterion="l1", seed=0):
    """Mark in `model` the reference's number of dead channels per layer, by `criterion`.

    Args:
        model: a trained functional `keras.Model`; changed in place: the
            chosen channels get γ = β = 0, as Liu et al. mark them, so they
            output act(0) and `shrink` drops them without a carrier.
        reference: a model of the same architecture whose dead channels
            (γ = 0, as `NetworkSlimming` or `mark_for_target` leave them)
            give the number to remove from each layer: the widths
            `shrink(reference)` builds.
        criterion: `"random"`, `"l1"` or `"gamma"`. Defaults to `"l1"`.
        seed: seed of `"random"`. Defaults to `0`.

    Returns:
        `{BatchNormalization name: channels marked}`.

    Raises:
        ValueError: for an unknown criterion, or models whose
            BatchNormalization layers differ.

    Example:

    >>> from kerasreg import models
    >>> reference = models.cnn((8, 8, 1), 10)
    >>> bn = reference.get_layer("block1_bn")
    >>> _ = bn.gamma.assign(np.r_[np.zeros(12), np.ones(20)].astype("float32"))
    >>> counts = match_widths(models.cnn((8, 8, 1), 10), reference, "random")
    >>> counts["block1_bn"], counts["block2_bn"]
    (12, 0)
    """
    from kerasreg.compression.surgery.channel_graph import ChannelGraph
    from kerasreg.compression.surgery.shrink_plan import plan_shrink

    if criterion not in CRITERIA:
        raise ValueError(
            f"Expected criterion to be one of {', '.join(CRITERIA)}. "
            f"Received: criterion={criterion!r}"
        )
    wanted = _removed_per_bn(plan_shrink(reference, strict=False).settle())
    graph = ChannelGraph(model)
    groups = _groups(graph)
    names = {name for members in groups.values() for name, _ in members}
    if names != set(wanted):
        raise ValueError(
            f"model {model.name!r} and reference {reference.name!r} do not have "
            "the same BatchNormalization layers; match_widths needs two models "
            "of one architecture."
        )
    score = _scores(graph, criterion, seed)
    chosen = []
    for labels, members in groups.items():
        count = max(wanted[name] for name, _ in members)
        if count:
            ranked = sorted(labels, key=lambda label: (score[label], label))
            chosen.extend(ranked[:count])
    chosen = np.array(sorted(chosen), dtype=np.int64)
    counts = {}
    for call in graph.calls:
        if call.kind != "bn" or call.layer.name in counts:
            continue
        mask = np.isin(graph.labels[call.outputs[0]], chosen)
        weights = [call.layer.gamma] + ([call.layer.beta] if call.layer.center else [])
        for weight in weights:  # β too: the channel outputs act(0), no carrier
            value = ops.convert_to_numpy(weight)
            weight.assign(np.where(mask, 0.0, value).astype(value.dtype))
        counts[call.layer.name] = int(mask.sum())
    return counts


def _removed_per_bn(plan):
    out = {}
    for call in plan.graph.calls:
        if call.kind == "bn":
            out[call.layer.name] = int((~plan.keep[call.outputs[0]]).sum())
    return out


def _groups(graph):
    """BatchNormalization calls grouped by the channel classes they share."""
    groups = {}
    for call in graph.calls:
        if call.kind == "bn":
            labels = frozenset(graph.labels[call.outputs[0]].tolist())
            groups.setdefault(labels, []).append((call.layer.name, call))
    return groups


def _scores(graph, criterion, seed):
    """A score per channel class; the lowest are removed first."""
    labels = np.unique(np.concatenate([graph.labels[t] for t in graph.labels]))
    if criterion == "random":
        values = np.random.default_rng(seed).random(labels.size)
        return dict(zip(labels.tolist(), values.tolist()))
    score = dict.fromkeys(labels.tolist(), 0.0)
    for call in graph.calls:
        out = graph.labels[call.outputs[0]]
        if criterion == "gamma" and call.kind == "bn":
            values = np.abs(ops.convert_to_numpy(call.layer.gamma))
            for label, value in zip(out.tolist(), values.tolist()):
                score[label] = max(score[label], value)
        elif criterion == "l1" and call.kind == "producer":
            layer = call.layer
            kernel = getattr(layer, "pointwise_kernel", None)
            kernel = ops.convert_to_numpy(layer.kernel if kernel is None else kernel)
            norms = np.abs(kernel.reshape(-1, kernel.shape[-1])).sum(axis=0)
            for label, value in zip(out.tolist(), norms.tolist()):
                score[label] += value
    return score
