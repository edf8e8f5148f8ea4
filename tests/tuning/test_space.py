"""Search spaces: the documented ranges, log-uniform sampling, bad ranges."""

import keras_tuner as kt
import numpy as np
import pytest

from kerasreg import tuning


def test_seed_space_is_log_uniform_over_the_seed_ranges():
    hp = kt.HyperParameters()
    tuning.default_space(hp)
    lr, wd = hp._hps["lr"][0], hp._hps["weight_decay"][0]
    assert (lr.min_value, lr.max_value, lr.sampling) == (1e-6, 1e-2, "log")
    assert (wd.min_value, wd.max_value, wd.sampling) == (1e-8, 1e-4, "log")
    logs = np.log10([lr.random_sample(seed) for seed in range(2000)])
    # 10^U(-6, -2): each decade holds a quarter of the samples.
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0] / len(logs)
    np.testing.assert_allclose(counts, 0.25, atol=0.04)


def test_knob_helpers_declare_the_documented_ranges():
    hp = kt.HyperParameters()
    tuning.dropout(hp)
    tuning.slimming_l1(hp)
    tuning.temperature(hp)
    tuning.distillation_lambda(hp)
    tuning.sparsity(hp)
    tuning.width(hp)
    declared = {p.name: (p.min_value, p.max_value, p.sampling) for p in hp.space}
    assert declared == {
        "dropout": (0.0, 0.5, "linear"),
        "slimming_l1": (1e-6, 1e-3, "log"),
        "temperature": (1.0, 20.0, "log"),
        "distillation_lambda": (0.0, 1.0, "linear"),
        "sparsity": (0.0, 0.95, "linear"),
        "width": (0.125, 1.0, "log"),
    }


def test_bad_ranges_raise_clear_errors():
    hp = kt.HyperParameters()
    with pytest.raises(
        ValueError, match=r"min_value < max_value for 'lr'.*min_value=0.01"
    ):
        tuning.learning_rate(hp, 1e-2, 1e-2)
    with pytest.raises(ValueError, match=r"Log sampling of 'lr' needs min_value > 0"):
        tuning.learning_rate(hp, 0.0, 1e-2)
    with pytest.raises(
        ValueError, match=r"0 <= min_value < max_value <= 1.0 for 'dropout'"
    ):
        tuning.dropout(hp, 0.2, 1.5)
