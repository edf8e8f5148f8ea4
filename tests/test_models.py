"""kerasreg.models: each reference model builds and learns digits."""

import keras
import numpy as np
import pytest

from kerasreg import models, training


@pytest.mark.parametrize(
    "name, kwargs, min_accuracy",
    [
        ("cnn", {}, 0.9),
        ("cnn-tiny", {}, 0.8),
        ("cnn-nano", {}, 0.8),
        ("vgg", {"widths": (16, 32)}, 0.9),
        ("resnet", {}, 0.9),
    ],
)
def test_model_learns_digits_in_inference_mode(digits, name, kwargs, min_accuracy):
    model = models.build(name, digits.input_shape, 10, **kwargs)
    training.compile_model(model, learning_rate=5e-3)
    model.fit(digits.x_train, digits.y_train, epochs=3, batch_size=64, verbose=0)
    # Inference mode: BN moving statistics, no dropout. Chance is 10%.
    assert (
        training.evaluate_accuracy(model, digits.x_test, digits.y_test) >= min_accuracy
    )
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers
    )
    assert model.output_shape == (None, 10)


def test_small_students_param_counts():
    # Conv(8, 16)-BN-ReLU-pool and Conv(8)-BN-ReLU-pool, then Dense(10).
    assert models.build("cnn-tiny", (8, 8, 1), 10).count_params() == 1970
    assert models.build("cnn-nano", (8, 8, 1), 10).count_params() == 1394


def test_models_output_logits():
    model = models.cnn((8, 8, 1), 10)
    assert model.layers[-1].activation is keras.activations.linear


def test_resnet50_matches_the_seed_size():
    model = models.resnet50((32, 32, 3), 10)
    # The seed reports 23,573,642 parameters for its ResNet-50 on CIFAR-10.
    assert 23.4e6 < model.count_params() < 23.7e6
    assert model.output_shape == (None, 10)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(bns) == 53


def test_resnet_depth_and_width():
    model = models.resnet((8, 8, 1), 10, widths=(8, 16, 32), blocks_per_stage=2)
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * 2 * 2 + 2  # stem, two per block, two projections
    assert model.get_layer("stage3_block1_b_conv").filters == 32


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.build("lenet", (8, 8, 1), 10), r"Unknown model: name='lenet'"),
        (lambda: models.cnn((8, 8), 10), r"Expected input_shape=\(H, W, C\)"),
        (lambda: models.cnn((8, 8, 1), 1), r"Expected num_classes >= 2"),
        (
            lambda: models.resnet50((8, 8, 1), 10),
            r"resnet50 needs inputs of at least 32x32",
        ),
        (
            lambda: models.resnet((8, 8, 1), 10, blocks_per_stage=0),
            r"blocks_per_stage >= 1",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bn_momentum_is_chosen_for_small_data():
    model = models.resnet((8, 8, 1), 10)
    momenta = {
        la.momentum
        for la in model.layers
        if isinstance(la, keras.layers.BatchNormalization)
    }
    assert momenta == {0.9}
    assert np.isclose(models.BN_MOMENTUM, 0.9)
