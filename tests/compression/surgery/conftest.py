"""Shared by the surgery tests: BatchNorm layers with dead channels."""

import numpy as np

from kerasreg.compression.slimming import batchnorm_layers


def kill_channels(model, fraction=0.5, seed=0):
    """Zero γ of a random fraction of every BN; random β (both signs), stats."""
    rng = np.random.default_rng(seed)
    for bn in batchnorm_layers(model):
        n = bn.gamma.shape[0]
        gamma = rng.uniform(0.5, 1.5, n).astype("float32")
        gamma[rng.choice(n, int(fraction * n), replace=False)] = 0.0
        bn.gamma.assign(gamma)
        bn.beta.assign(rng.normal(size=n).astype("float32"))
        bn.moving_mean.assign(0.1 * rng.normal(size=n).astype("float32"))
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
