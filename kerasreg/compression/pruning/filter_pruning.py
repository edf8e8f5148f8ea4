"""Structured filter pruning (Li et al. 2017) through the slimming surgery.

`prune_filters` ranks the filters of every Conv -> BatchNormalization pair
by the norm of their kernel, zeroes γ and β of the weakest, and lets
`shrink` remove them physically, so parameters, FLOPs and latency drop.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasreg.compression.surgery.channel_graph import ChannelGraph
from kerasreg.compression.surgery.rebuild import shrink

__all__ = ["prune_filters"]


def prune_filters(model, ratio, criterion="l1"):
    """Remove the weakest filters of every Conv that feeds a BatchNormalization.

    Structured pruning: filters are ranked by the `criterion` norm of their
    kernel; the lowest `ratio` of each Conv get their BN `gamma` and `beta`
    set to zero (so the channel outputs exactly zero after ReLU), and
    `kerasreg.compression.shrink` then removes them physically, so
    parameters, FLOPs and latency really drop. The input model is not
    changed.

    Args:
        model: a built functional `keras.Model` with Conv -> BN pairs.
        ratio: fraction of filters removed from each Conv, in `[0, 1)`.
        criterion: `"l1"` or `"l2"` norm of each filter. Defaults to `"l1"`.

    Returns:
        A new, smaller `keras.Model` (uncompiled): fine-tune it afterwards.

    Raises:
        ValueError: for a ratio outside `[0, 1)`, an unknown criterion, or a
            model without Conv -> BatchNormalization pairs.

    Reference:
        [Li et al., 2017](https://arxiv.org/abs/1608.08710)
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"Expected 0 <= ratio < 1. Received: ratio={ratio}")
    norms = {"l1": 1, "l2": 2}
    if criterion not in norms:
        raise ValueError(
            f"Expected criterion to be 'l1' or 'l2'. Received: criterion={criterion!r}"
        )
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    pairs = ChannelGraph(copy).conv_bn_pairs()
    if not pairs:
        raise ValueError(
            f"Model {model.name!r} has no Conv layer feeding a BatchNormalization."
        )
    for conv, bn in pairs:
        kernel = np.asarray(conv.kernel.numpy())
        filters = kernel.reshape(-1, kernel.shape[-1])
        score = np.linalg.norm(filters, ord=norms[criterion], axis=0)
        drop = np.argsort(score, kind="stable")[: int(ratio * score.size)]
        for weight in (bn.gamma, bn.beta):
            values = np.asarray(weight.numpy()).copy()
            values[drop] = 0.0
            weight.assign(values)
    return shrink(copy)
