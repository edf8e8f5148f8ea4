"""kerasreg.models: the registry, `build`, and what every model shares."""

import keras
import numpy as np
import pytest

from kerasreg import models, training

CIFAR_MODELS = ("resnet20", "resnet56", "vgg11", "mobilenetv2")
CONVS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


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


def _consumers(model, tensor):
    """The layers of `model` that take `tensor` as an input."""
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and any(t is tensor for t in keras.tree.flatten(layer.input))
    ]


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_models_end_in_logits_with_bn_after_every_conv(cifar_model, name):
    model = cifar_model(name)
    assert model.name == name
    assert model.output_shape == (None, 10)
    assert model.layers[-1].activation is keras.activations.linear
    convs = [layer for layer in model.layers if isinstance(layer, CONVS)]
    assert convs
    for conv in convs:
        consumers = _consumers(model, conv.output)
        assert [type(c) for c in consumers] == [keras.layers.BatchNormalization], (
            conv.name
        )
        assert conv.use_bias is False, conv.name  # the BN after it has the bias


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_models_have_a_recipe(name):
    assert isinstance(models.recipe_for(name), models.Recipe)


def test_build_resnet20_for_cifar():
    model = models.build("resnet20", (32, 32, 3), 10)
    assert model.name == "resnet20"
    assert model.output_shape == (None, 10)
    logits = model(np.zeros((2, 32, 32, 3), "float32"), training=False)
    assert logits.shape == (2, 10)


def test_build_lists_every_model():
    assert set(models.MODELS) == {
        "cnn",
        "cnn-tiny",
        "cnn-nano",
        "vgg",
        "resnet",
        "resnet50",
        *CIFAR_MODELS,
    }
    assert set(models.__all__) >= {"build", "MODELS", "BN_MOMENTUM", "resnet_cifar"}


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match=r"Unknown model: name='lenet'"):
        models.build("lenet", (8, 8, 1), 10)


def test_bn_momentum_is_chosen_for_small_data():
    model = models.resnet((8, 8, 1), 10)
    momenta = {
        la.momentum
        for la in model.layers
        if isinstance(la, keras.layers.BatchNormalization)
    }
    assert momenta == {0.9}
    assert np.isclose(models.BN_MOMENTUM, 0.9)
