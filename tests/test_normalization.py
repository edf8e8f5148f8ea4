"""kerasreg.normalization: norm layers by name, BatchNorm swapped in a model."""

import keras
import numpy as np
import pytest

from kerasreg import layers as L
from kerasreg import models
from kerasreg._layer_tree import walk_layers


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.norm_layer("weird"), "kind='weird'"),
        (lambda: L.norm_layer("layer", groups=2), "groups=2"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_norm_layer_kinds():
    x = np.random.default_rng(0).normal(2.0, 3.0, (2, 4, 4, 8)).astype("float32")
    assert isinstance(L.norm_layer("batch"), keras.layers.BatchNormalization)
    assert L.norm_layer("group", groups=4).groups == 4
    layer_norm = L.norm_layer("layer")(x).numpy()
    # one mean/variance over all of H x W x C per sample (seed 000)
    np.testing.assert_allclose(layer_norm.reshape(2, -1).mean(1), 0.0, atol=1e-4)
    np.testing.assert_allclose(layer_norm.reshape(2, -1).std(1), 1.0, atol=1e-3)
    instance = L.norm_layer("instance")(x).numpy()
    np.testing.assert_allclose(instance.mean(axis=(1, 2)), 0.0, atol=1e-4)
    assert np.all(np.abs(instance.std(axis=(1, 2)) - 1.0) < 1e-2)


def _bn_layers(model):
    return [
        layer
        for layer in walk_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@pytest.mark.parametrize("name", ["cnn", "resnet"])
def test_convert_normalization_on_reference_models(name):
    model = models.build(name, (8, 8, 1), 10)
    rng = np.random.default_rng(0)
    for bn in _bn_layers(model):
        bn.gamma.assign(rng.normal(size=bn.gamma.shape))
        bn.beta.assign(rng.normal(size=bn.beta.shape))
    converted = L.convert_normalization(model, to="group", groups=32)
    assert not _bn_layers(converted)
    for bn in _bn_layers(model):
        gn = converted.get_layer(bn.name)
        assert isinstance(gn, keras.layers.GroupNormalization)
        assert gn.groups == min(32, bn.gamma.shape[0])
        np.testing.assert_array_equal(gn.gamma.numpy(), bn.gamma.numpy())
        np.testing.assert_array_equal(gn.beta.numpy(), bn.beta.numpy())
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            np.testing.assert_array_equal(
                converted.get_layer(layer.name).kernel.numpy(), layer.kernel.numpy()
            )
    x = rng.random((3, 8, 8, 1)).astype("float32")
    assert converted(x).shape == (3, 10)
    # group norm does not depend on the batch: one sample alone gives the same
    np.testing.assert_allclose(
        converted(x[:1], training=True), converted(x, training=True)[:1], atol=1e-5
    )


def test_convert_normalization_nested_and_layer_norm():
    inner = models.build("cnn-tiny", (8, 8, 1), 10)
    tensor = keras.Input((8, 8, 1))
    outer = keras.Model(tensor, keras.layers.Softmax()(inner(tensor)))
    converted = L.convert_normalization(outer, to="layer")
    nested = converted.layers[1]
    assert isinstance(nested, keras.Model)
    groups = [layer.groups for layer in _bn_free_norms(nested)]
    assert groups == [1, 1] and not _bn_layers(converted)
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(converted(x).numpy().sum(-1), 1.0, atol=1e-5)


def _bn_free_norms(model):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.GroupNormalization)
    ]


def test_convert_normalization_errors():
    model = models.build("cnn", (8, 8, 1), 10, filters=(48, 64))
    with pytest.raises(ValueError, match=r"groups=32 does not divide the 48 channels"):
        L.convert_normalization(model, groups=32)
    with pytest.raises(ValueError, match="to='weight'"):
        L.convert_normalization(model, to="weight")
    with pytest.raises(ValueError, match="groups=0"):
        L.convert_normalization(model, groups=0)
    converted = L.convert_normalization(model, groups=16)
    assert {layer.groups for layer in _bn_free_norms(converted)} == {16}
