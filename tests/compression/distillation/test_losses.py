"""distillation_loss: the soft and hard terms against a hand computation."""

import numpy as np
import pytest

from kerasreg.compression.distillation import distillation_loss
from tests.compression.distillation.conftest import softmax


@pytest.mark.parametrize(
    "temperature, lambda_soft, lambda_hard",
    [(1.0, 1.0, 1.0), (4.0, 0.9, 0.1), (20.0, 3.0, 0.0), (2.5, 0.0, 2.0)],
)
def test_loss_matches_hand_computation(temperature, lambda_soft, lambda_hard):
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(2, 5, 3)) * 3
    y = np.array([0, 2, 1, 1, 0])
    w = np.array([1.0, 0.5, 0.0, 2.0, 1.0])
    soft = -(softmax(t / temperature) * np.log(softmax(s / temperature))).sum(-1)
    hard = -np.log(softmax(s)[np.arange(5), y])
    expected = (lambda_soft * temperature**2 * soft + lambda_hard * hard) / (
        lambda_soft + lambda_hard
    )
    args = (temperature, lambda_soft, lambda_hard)
    got = distillation_loss(y, t.astype("float32"), s.astype("float32"), *args)
    np.testing.assert_allclose(float(got), expected.mean(), rtol=1e-5)
    weighted = distillation_loss(y, t, s.astype("float32"), *args, sample_weight=w)
    np.testing.assert_allclose(float(weighted), (w * expected).mean(), rtol=1e-5)
    one_hot = np.eye(3, dtype="float32")[y]
    got = distillation_loss(one_hot, t, s.astype("float32"), *args)
    np.testing.assert_allclose(float(got), expected.mean(), rtol=1e-5)
