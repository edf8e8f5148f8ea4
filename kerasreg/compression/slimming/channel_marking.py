"""Which BatchNormalization channels a slimmed model can lose.

`batchnorm_layers` finds the γ that network slimming acts on, nested
models included; `dead_channels` counts the γ that are exactly zero;
`mark_channels` is Liu et al.'s global ranking: zero γ and β of the
channels with the smallest |γ|, with a per-layer cap.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasreg._layer_tree import walk_layers

__all__ = ["batchnorm_layers", "dead_channels", "mark_channels"]


def batchnorm_layers(model, layers=None):
    """The trainable BatchNormalization layers of `model`, nested ones too.

    Args:
        model: a `keras.Model` (or a `Distiller`-like model whose nested
            models hold the BN layers).
        layers: optional names (or layer objects) to keep; all by default.

    Returns:
        A list of `keras.layers.BatchNormalization`, in graph order.

    Raises:
        ValueError: if the model has no trainable BatchNormalization with a
            scale, or a requested name is not one.
    """
    found = []
    seen = set()
    for layer in walk_layers(model):
        if (
            isinstance(layer, keras.layers.BatchNormalization)
            and layer.scale
            and layer.trainable
            and id(layer) not in seen
        ):
            seen.add(id(layer))
            found.append(layer)
    if layers is not None:
        wanted = [x if isinstance(x, str) else x.name for x in layers]
        by_name = {layer.name: layer for layer in found}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            raise ValueError(
                f"layers={missing} are not trainable BatchNormalization layers "
                f"with a scale in {model.name!r}. Available: {sorted(by_name)}"
            )
        found = [by_name[name] for name in wanted]
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no trainable BatchNormalization layer with "
            "scale=True, so network slimming has no γ to act on. Add "
            "BatchNormalization after the convolutions (every kerasreg.models "
            "builder does)."
        )
    return found


def dead_channels(model, layers=None):
    """Count channels whose γ is exactly zero, per BatchNormalization layer.

    Returns:
        A dict `{layer name: count}`.
    """
    return {
        bn.name: int(np.sum(ops.convert_to_numpy(bn.gamma) == 0.0))
        for bn in batchnorm_layers(model, layers)
    }


def mark_channels(
    model,
    prune_ratio=None,
    threshold=None,
    max_per_layer=0.9,
    layers=None,
    coupled=False,
):
    """Zero γ and β of the least important channels, in place (Liu et al.).

    Channels are ranked by |γ| across all selected BatchNormalization layers.
    Either the global `prune_ratio` fraction with the smallest |γ| is marked,
    or every channel with |γ| < `threshold`. No layer loses more than
    `max_per_layer` of its channels: its largest γ are kept. A marked channel
    outputs exactly zero after BN (γ = β = 0), so `shrink` removes it.

    Args:
        model: a trained `keras.Model`; modified in place.
        prune_ratio: global fraction of channels to mark, in [0, 1).
        threshold: absolute |γ| threshold, ≥ 0. Exactly one of
            `prune_ratio` and `threshold` must be given.
        max_per_layer: cap per layer, in (0, 1]. Defaults to `0.9`.
        layers: names of BatchNormalization layers; all by default.
        coupled: rank each channel by the largest |γ| among all
            BatchNormalization layers coupled to it (for example across the
            Adds of a residual stream), so coupled channels are marked
            together and `shrink` can remove them. Needs a functional model.
            Defaults to `False` (Liu et al.'s per-BN ranking).

    Returns:
        A dict `{layer name: channels marked}`.

    Example:

    >>> from kerasreg import models
    >>> model = models.cnn((8, 8, 1), 10)
    >>> counts = mark_channels(model, prune_ratio=0.5)
    >>> sum(counts.values()) > 0
    True
    """
    if (prune_ratio is None) == (threshold is None):
        raise ValueError(
            "Pass exactly one of prune_ratio and threshold. Received: "
            f"prune_ratio={prune_ratio}, threshold={threshold}"
        )
    _check_marking(prune_ratio, threshold, max_per_layer)
    bns = batchnorm_layers(model, layers)
    gammas = [np.abs(ops.convert_to_numpy(bn.gamma)) for bn in bns]
    if coupled:
        gammas = _coupled_scores(model, bns, gammas)
    if threshold is None:
        everything = np.concatenate(gammas)
        k = int(round(prune_ratio * everything.size))
        if k == 0:
            return {bn.name: 0 for bn in bns}
        threshold = np.sort(everything)[k - 1]
        inclusive = True
    else:
        inclusive = False
    counts = {}
    for bn, g in zip(bns, gammas):
        marked = g <= threshold if inclusive else g < threshold
        cap = int(np.floor(max_per_layer * g.size))
        cap = min(cap, g.size - 1)  # never the whole layer
        if marked.sum() > cap:
            order = np.argsort(g)  # smallest first
            marked = np.zeros_like(marked)
            marked[order[:cap]] = True
        keep = (~marked).astype(g.dtype)
        bn.gamma.assign(ops.convert_to_numpy(bn.gamma) * keep)
        if bn.center:
            bn.beta.assign(ops.convert_to_numpy(bn.beta) * keep)
        counts[bn.name] = int(marked.sum())
    return counts


def _coupled_scores(model, bns, gammas):
    """Replace each |γ| by the largest |γ| of its channel class."""
    from kerasreg.compression.surgery.channel_graph import ChannelGraph

    graph = ChannelGraph(model)
    labels_of = {}
    for call in graph.calls:
        if call.kind == "bn":
            labels_of.setdefault(id(call.layer), graph.labels[call.outputs[0]])
    best = {}
    for bn, g in zip(bns, gammas):
        for label, value in zip(labels_of[id(bn)], g):
            best[label] = max(best.get(label, 0.0), float(value))
    return [np.array([best[label] for label in labels_of[id(bn)]]) for bn in bns]


def _check_marking(prune_ratio, threshold, max_per_layer):
    if prune_ratio is not None and not 0.0 <= prune_ratio < 1.0:
        raise ValueError(
            f"Expected 0 <= prune_ratio < 1. Received: prune_ratio={prune_ratio}"
        )
    if threshold is not None and not threshold >= 0.0:
        raise ValueError(f"Expected threshold >= 0. Received: threshold={threshold}")
    if not 0.0 < max_per_layer <= 1.0:
        raise ValueError(
            "Expected 0 < max_prune_per_layer <= 1. Received: "
            f"max_prune_per_layer={max_per_layer}"
        )
