"""prune_filters: the weakest conv filters by L1 norm removed."""

import numpy as np
import pytest

from kerasreg import models, report, training
from kerasreg.compression.pruning import prune_filters
from tests.compression.pruning.conftest import mlp


def test_prune_filters_removes_filters_and_flops(digits):
    model = models.build("cnn-tiny", digits.input_shape, digits.num_classes)
    training.compile_model(model, 3e-3)
    model.fit(digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0)
    small = prune_filters(model, 0.5)
    assert small.get_layer("block1_conv").filters == 4
    assert small.get_layer("block2_conv").filters == 8
    assert report.count_params(small) < 0.6 * report.count_params(model)
    assert report.count_flops(small) < 0.6 * report.count_flops(model)
    assert model.get_layer("block1_conv").filters == 8  # input untouched
    # The weakest filters by L1 norm are the ones removed.
    kernel = model.get_layer("block1_conv").kernel.numpy()
    l1 = np.abs(kernel).sum(axis=(0, 1, 2))
    kept = np.sort(np.argsort(l1)[4:])
    np.testing.assert_allclose(
        small.get_layer("block1_conv").kernel.numpy(), kernel[..., kept]
    )
    assert training.evaluate_accuracy(small, digits.x_test, digits.y_test) > 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ratio=1.0), r"Expected 0 <= ratio < 1\. Received: ratio=1.0"),
        (dict(ratio=0.5, criterion="max"), r"Received: criterion='max'"),
    ],
)
def test_prune_filters_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prune_filters(mlp(), **kwargs)


def test_prune_filters_needs_conv_bn_pairs():
    with pytest.raises(
        ValueError, match="has no Conv layer feeding a BatchNormalization"
    ):
        prune_filters(mlp(), 0.5)
