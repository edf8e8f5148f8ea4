"""How removed channels that carry a constant reach the layers reading them.

A channel whose BatchNormalization γ is 0 outputs a constant. `shrink`
keeps the model exact by folding that constant into each reader:

- `replay` runs a flattened `ChannelGraph` with given layers (the original
  ones on a zero probe, to read each channel's constant map, or the new
  ones to build the smaller model);
- `consumer_edits` decides, for every Conv2D / Dense reading removed
  channels, whether their contribution is a bias shift (the same at every
  position) or must be merged into one kept channel (3x3 "same"
  convolutions see zero padding at the borders), and un-removes channels
  where neither works.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops, tree

__all__ = ["replay", "consumer_edits"]


def replay(graph, inputs, layer_for):
    """Run the flattened graph; returns `{tensor id: value}`."""
    values = dict(zip(graph.inputs, inputs))
    for call in graph.calls:
        tensors = call.node.arguments.keras_tensors
        mapping = {id(kt): values[tid] for kt, tid in zip(tensors, call.inputs)}
        args, kwargs = call.node.arguments.fill_in(mapping)
        outputs = layer_for(call)(*args, **kwargs)
        for tid, value in zip(call.outputs, tree.flatten(outputs)):
            values[tid] = value
    return values


def _linear_contribution(layer, value):
    """What `value` adds to `layer`'s pre-activation output (no bias)."""
    x = ops.convert_to_tensor(value[None])
    if isinstance(layer, keras.layers.Dense):
        out = ops.matmul(x, layer.kernel)
    elif isinstance(layer, keras.layers.SeparableConv2D):
        out = ops.separable_conv(
            x,
            layer.depthwise_kernel,
            layer.pointwise_kernel,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
        )
    else:
        out = ops.conv(
            x,
            layer.kernel,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
        )
    return ops.convert_to_numpy(out)[0]


def consumer_edits(plan):
    """Bias shifts and merges that keep removed constant channels exact.

    Returns `{call id: (bias delta, {kept channel: {removed channel:
    ratio}})}`; may un-remove channels (updating `plan.keep`) when merging
    is impossible.
    """
    graph = plan.graph
    shapes = [(1, *graph.shapes[tid][1:]) for tid in graph.inputs]
    probe = [np.zeros(s, "float32") for s in shapes]
    values = replay(graph, probe, lambda call: call.layer)
    # Each pass decides every reader; channels that must stay after all are
    # un-removed together, and the pass repeats until nothing changes.
    for _ in range(len(graph.calls) + 1):
        edits, unremove = {}, []
        for call in graph.calls:
            if call.kind != "producer":
                continue
            tid = call.inputs[0]
            removed = ~plan.keep[tid]
            if not removed.any():
                continue
            v = ops.convert_to_numpy(values[tid])[0]
            masked = np.where(removed, v, 0.0).astype("float32")
            if not np.any(masked):
                continue
            contrib = _linear_contribution(call.layer, masked)
            flat = contrib.reshape(-1, contrib.shape[-1])
            scale = np.max(np.abs(flat)) + 1e-12
            if np.max(np.abs(flat - flat[0])) <= 1e-6 * scale:
                edits[id(call)] = (flat[0], {})
                continue
            target, ratios = _merge_target(plan, tid, v, removed, call)
            if target is None:
                # Keep every removed channel that carries a nonzero constant.
                carrying = np.any(v.reshape(-1, v.shape[-1]) != 0, axis=0)
                unremove.append(graph.labels[tid][removed & carrying])
            elif not plan.keep[tid][target]:
                unremove.append(graph.labels[tid][[target]])
            else:
                edits[id(call)] = (
                    np.zeros(flat.shape[-1], "float32"),
                    {target: ratios},
                )
        if not unremove:
            return edits
        labels = np.unique(np.concatenate(unremove))
        for other, other_labels in graph.labels.items():
            plan.keep[other] = plan.keep[other] | np.isin(other_labels, labels)
        plan.round_widths()
    raise RuntimeError("shrink: constant-channel merging did not converge")


def _merge_target(plan, tid, v, removed, call):
    """A channel whose constant map is proportional to all removed ones."""
    if not isinstance(call.layer, keras.layers.Conv2D):
        return None, None
    maps = v.reshape(-1, v.shape[-1])
    removed_idx = [c for c in np.flatnonzero(removed) if np.any(maps[:, c])]
    kept_const = np.flatnonzero(plan.keep[tid] & plan.const[tid])
    candidates = [c for c in kept_const if np.any(maps[:, c])]
    candidates += sorted(removed_idx, key=lambda c: -np.abs(maps[:, c]).sum())
    for target in candidates:
        base = maps[:, target]
        ratios = {}
        for c in removed_idx:
            if c == target:
                continue
            r = float(maps[:, c] @ base / (base @ base))
            if np.max(np.abs(maps[:, c] - r * base)) > 1e-6 * np.max(
                np.abs(maps[:, c])
            ):
                break
            ratios[c] = r
        else:
            return target, ratios
    return None, None
