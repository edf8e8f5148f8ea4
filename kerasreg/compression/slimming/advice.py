"""What a fixed λ did wrong, said at the end of training.

Whether `NetworkSlimming(l1=λ)` removes anything depends on the optimizer,
its learning rate and the number of updates: with SGD the L1 penalty moves
each γ toward zero by λ·(learning rate) per update. A λ chosen for Adam
can leave every γ far from zero under a small SGD rate, or drive nearly all
of them to zero under a large one. `lambda_advice` says which happened and
what would work instead.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from kerasreg.compression.slimming.channel_marking import batchnorm_layers

__all__ = ["lambda_advice", "TOO_MANY_DEAD"]

# Above this fraction of dead channels, or with a whole layer dead, the
# penalty has overwhelmed the loss: the shrunk model has lost its function.
TOO_MANY_DEAD = 0.9

_TARGET_HINT = (
    " Adaptive optimizers such as Adam scale that step themselves; "
    "NetworkSlimming(target=0.5) removes half of the parameters with any "
    "optimizer and no λ."
)


def lambda_advice(model, layers, l1, lr_sum):
    """Why a fixed λ removed nothing or nearly everything, and what would.

    Args:
        model: the trained model.
        layers: the BatchNormalization layers slimmed (names), or `None`.
        l1: λ.
        lr_sum: the sum of the learning rate over the updates of the run,
            so that the penalty moved each γ by at most `l1 * lr_sum`.

    Returns:
        The message, or `None` when λ removed some channels but not
        nearly all.
    """
    if not l1:
        return None
    bns = batchnorm_layers(model, layers)
    gammas = [np.abs(ops.convert_to_numpy(bn.gamma)) for bn in bns]
    everything = np.concatenate(gammas)
    if np.any(everything == 0.0):
        return _too_large(l1, lr_sum, bns, gammas, everything)
    smallest, median = float(everything.min()), float(np.median(everything))
    message = (
        f"NetworkSlimming(l1={l1:g}): no γ reached 0, so shrink will remove "
        f"nothing. The smallest |γ| is {smallest:.3g} and the median "
        f"{median:.3g}. With SGD the penalty moves a γ by λ·(learning rate) "
        f"per update, here at most {l1 * lr_sum:.3g} in all."
    )
    if lr_sum > 0:
        message += f" A λ near {median / lr_sum:.2g} would bring the smaller half to 0."
    return message + _TARGET_HINT


def _too_large(l1, lr_sum, bns, gammas, everything):
    dead = float(np.mean(everything == 0.0))
    emptied = [bn.name for bn, g in zip(bns, gammas) if np.all(g == 0.0)]
    if dead <= TOO_MANY_DEAD and not emptied:
        return None
    where = f", every channel of {emptied[0]!r}" if emptied else ""
    return (
        f"NetworkSlimming(l1={l1:g}): {dead:.0%} of the γ reached 0{where}, so "
        f"the shrunk model will have lost most of its function. With SGD the "
        f"penalty moves a γ by λ·(learning rate) per update, here up to "
        f"{l1 * lr_sum:.3g} in all: try a λ ten times smaller." + _TARGET_HINT
    )
