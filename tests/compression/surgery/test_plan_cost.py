"""ShrinkPlan.cost: the shrunk model's parameters and MACs, before building it."""

import keras
import numpy as np
import pytest

from kerasreg import metrics, models
from kerasreg.compression import shrink
from kerasreg.compression.surgery import plan_shrink


def _randomize(model, dead_fraction, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 1.5, n) * (rng.random(n) >= dead_fraction)
            layer.gamma.assign(gamma.astype("float32"))
            layer.beta.assign(rng.normal(size=n).astype("float32"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: models.resnet((16, 16, 3), 10, widths=(8, 16)),
        lambda: models.build("mobilenetv2", (32, 32, 3), 10),
        lambda: models.cnn((8, 8, 1), 10),
    ],
    ids=["resnet", "mobilenetv2", "cnn"],
)
def test_cost_equals_the_built_model(build):
    model = build()
    _randomize(model, dead_fraction=0.5)
    plan = plan_shrink(model, strict=False)
    small = shrink(model, strict=False)
    assert plan.cost() == (metrics.count_params(small), metrics.count_flops(small))
    assert metrics.count_params(small) < metrics.count_params(model)


def test_unsettled_cost_is_a_lower_bound():
    model = models.resnet((16, 16, 3), 10, widths=(8, 16))
    _randomize(model, dead_fraction=0.5, seed=1)
    unsettled = plan_shrink(model, strict=False).cost(settle=False)
    settled = plan_shrink(model, strict=False).cost()
    assert unsettled[0] <= settled[0] and unsettled[1] <= settled[1]


def test_cost_of_an_untouched_model_is_its_size():
    model = models.build("resnet20", (32, 32, 3), 10)
    assert plan_shrink(model).cost() == (
        metrics.count_params(model),
        metrics.count_flops(model),
    )
