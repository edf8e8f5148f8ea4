"""match_widths: random, L1-norm and plain-γ channel choices at a reference's widths."""

import numpy as np
import pytest

from kerasreg import models
from kerasreg.compression import shrink
from kerasreg.compression.slimming import (
    batchnorm_layers,
    mark_for_target,
    match_widths,
)


def _random_weights(model, seed):
    rng = np.random.default_rng(seed)
    for bn in batchnorm_layers(model):
        n = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.1, 1.0, n).astype("float32"))
        bn.beta.assign(rng.normal(size=n).astype("float32"))
    return model


def _resnet(seed):
    model = models.resnet((16, 16, 3), 10, widths=(8, 16, 32))
    return _random_weights(model, seed)


def _widths(model):
    return {bn.name: bn.gamma.shape[0] for bn in batchnorm_layers(model)}


@pytest.mark.parametrize("criterion", ["random", "l1", "gamma"])
def test_the_widths_asked_for(criterion):
    reference = _resnet(0)
    mark_for_target(reference, 0.6)
    model = _resnet(1)
    match_widths(model, reference, criterion, seed=3)
    assert _widths(shrink(model)) == _widths(shrink(reference))


def test_l1_takes_the_filters_of_smallest_norm():
    reference = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=8)
    bn = reference.get_layer("block1_bn")
    bn.gamma.assign(np.r_[np.zeros(3), np.ones(5)].astype("float32"))
    model = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=8)
    conv = model.get_layer("block1_conv")
    kernel = conv.kernel.numpy()
    scale = np.array([5, 1, 7, 2, 8, 3, 6, 4], "float32")
    conv.kernel.assign(np.sign(kernel) * scale)  # filter norms ordered by scale
    counts = match_widths(model, reference, "l1")
    assert counts == {"block1_bn": 3, "block2_bn": 0, "fc_bn": 0}
    dead = np.flatnonzero(model.get_layer("block1_bn").gamma.numpy() == 0)
    assert dead.tolist() == [1, 3, 5]  # the three smallest scales: 1, 2, 3


def test_gamma_takes_the_smallest_gammas():
    reference = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=8)
    reference.get_layer("block2_bn").gamma.assign(
        np.r_[np.zeros(2), np.ones(6)].astype("float32")
    )
    model = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=8)
    model.get_layer("block2_bn").gamma.assign(
        np.array([0.9, 0.2, 0.8, 0.1, 0.7, 0.6, 0.5, 0.4], "float32")
    )
    match_widths(model, reference, "gamma")
    gamma = model.get_layer("block2_bn").gamma.numpy()
    assert np.flatnonzero(gamma == 0).tolist() == [1, 3]


def test_random_is_seeded():
    reference = _resnet(0)
    mark_for_target(reference, 0.5)
    picks = []
    for seed in (4, 4, 5):
        model = _resnet(1)
        match_widths(model, reference, "random", seed=seed)
        picks.append(
            np.concatenate([bn.gamma.numpy() == 0 for bn in batchnorm_layers(model)])
        )
    assert np.array_equal(picks[0], picks[1])
    assert not np.array_equal(picks[0], picks[2])


def test_bad_arguments():
    reference = models.cnn((8, 8, 1), 10)
    with pytest.raises(
        ValueError,
        match=r"Expected criterion to be one of random, l1, gamma. Received: criterion='l2'",
    ):
        match_widths(models.cnn((8, 8, 1), 10), reference, "l2")
    with pytest.raises(
        ValueError, match=r"do not have the same BatchNormalization layers"
    ):
        match_widths(models.resnet((8, 8, 1), 10, widths=(4, 8)), reference)
