"""Tests for kerasreg.regularizers."""

import keras
import numpy as np
import pytest

from kerasreg import models, regularizers
from kerasreg._layer_tree import walk_layers
from kerasreg.testing import assert_roundtrip


def _images(n=4, seed=0):
    return np.random.default_rng(seed).random((n, 8, 8, 1)).astype("float32")


def _kernel_sums(model, types=(keras.layers.Conv2D, keras.layers.Dense)):
    kernels = [
        layer.kernel.numpy() for layer in walk_layers(model) if isinstance(layer, types)
    ]
    return sum(np.abs(k).sum() for k in kernels), sum((k**2).sum() for k in kernels)


def test_regularize_keeps_outputs_and_adds_the_exact_penalty():
    model = models.build("resnet", (8, 8, 1), 10, widths=(8, 16))
    x = _images()
    penalized = regularizers.regularize(model, l1=1e-3, l2=1e-2)
    np.testing.assert_allclose(
        penalized.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    abs_sum, square_sum = _kernel_sums(model)
    penalized(x)
    np.testing.assert_allclose(
        float(keras.ops.sum(penalized.losses)),
        1e-3 * abs_sum + 1e-2 * square_sum,
        rtol=1e-5,
    )
    assert not model.losses  # the input model is untouched


def test_regularize_nested_and_bias_and_types():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="inner")])
    tensor = keras.Input((6,))
    model = keras.Model(tensor, keras.layers.Dense(2, name="head")(inner(tensor)))
    model.get_layer("head").bias.assign([1.0, -2.0])
    penalized = regularizers.regularize(
        model, l2=0.5, layer_types=(keras.layers.Dense,), include_bias=True
    )
    penalized(np.ones((1, 6), "float32"))
    weights = [w.numpy() for w in model.trainable_weights]
    np.testing.assert_allclose(
        float(keras.ops.sum(penalized.losses)),
        0.5 * sum((w**2).sum() for w in weights),
        rtol=1e-5,
    )
    only_conv = regularizers.regularize(
        model, l2=0.5, layer_types=(keras.layers.Conv2D,)
    )
    only_conv(np.ones((1, 6), "float32"))
    assert not only_conv.losses


def test_l2_regularized_training_shrinks_weights(digits):
    def trained(l2):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
        model = regularizers.regularize(model, l2=l2)
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(
            digits.x_train.reshape(-1, 64),
            digits.y_train,
            epochs=3,
            batch_size=128,
            verbose=0,
        )
        return float(np.sum(model.layers[-1].kernel.numpy() ** 2))

    assert trained(3e-2) < 0.5 * trained(0.0)


def test_elastic_net_is_the_builtin():
    assert regularizers.ElasticNet is keras.regularizers.L1L2
    penalty = regularizers.ElasticNet(l1=0.1, l2=0.2)
    w = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_allclose(float(penalty(w)), 0.1 * 3 + 0.2 * 5, rtol=1e-6)
    assert_roundtrip(penalty, w)


def test_regularize_activity_adds_l1_of_representations():
    model = models.build("cnn", (8, 8, 1), 10)
    x = _images(n=5)
    sparse = regularizers.regularize_activity(model, l1=1e-2)
    chosen = [layer.name for layer in sparse.layers if layer.activity_regularizer]
    assert chosen == ["block1_relu", "block2_relu", "fc_relu"]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in chosen])
    expected = sum(1e-2 * np.abs(h).sum() / len(x) for h in probe(x, training=False))
    sparse(x, training=False)
    np.testing.assert_allclose(float(keras.ops.sum(sparse.losses)), expected, rtol=1e-4)
    one = regularizers.regularize_activity(model, l1=1e-2, layers=["fc_relu"])
    assert [layer.name for layer in one.layers if layer.activity_regularizer] == [
        "fc_relu"
    ]


def _mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def test_parameter_tying_penalty_value_and_pull(digits):
    a, b = _mlp(0), _mlp(1)
    tied = regularizers.ParameterTying(a, b, weight=0.1)
    expected = 0.1 * sum(
        ((la.kernel.numpy() - lb.kernel.numpy()) ** 2).sum()
        for la, lb in zip(a.layers, b.layers)
    )
    np.testing.assert_allclose(float(tied.penalty()), expected, rtol=1e-5)
    x = digits.x_train.reshape(-1, 64)
    np.testing.assert_allclose(
        tied.predict(x[:4], verbose=0), a.predict(x[:4], verbose=0)
    )

    def distance():
        return sum(
            ((la.kernel.numpy() - lb.kernel.numpy()) ** 2).sum()
            for la, lb in zip(a.layers, b.layers)
        )

    before = distance()
    b.trainable = False
    reference = [w.numpy() for w in b.weights]
    tied.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    tied.fit(x, digits.y_train, epochs=4, batch_size=128, verbose=0)
    assert distance() < 0.2 * before  # A is pulled towards the fixed B
    for w, ref in zip(b.weights, reference):
        np.testing.assert_array_equal(w.numpy(), ref)
    accuracy = np.mean(
        tied.predict(digits.x_test.reshape(-1, 64), verbose=0).argmax(-1)
        == digits.y_test
    )
    assert accuracy > 0.5


def test_parameter_tying_roundtrip():
    tied = regularizers.ParameterTying(_mlp(0), _mlp(1), weight=0.5)
    x = np.random.default_rng(0).random((3, 64)).astype("float32")
    tied(x)
    loaded = assert_roundtrip(tied, x)
    assert loaded.weight == 0.5
    np.testing.assert_allclose(
        float(loaded.penalty()), float(tied.penalty()), rtol=1e-6
    )


def test_parameter_tying_mismatch():
    other = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="model_a has 2 .*model_b has 1"):
        regularizers.ParameterTying(_mlp(0), other)
    wide = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32), keras.layers.Dense(10)]
    )
    with pytest.raises(
        ValueError, match=r"model_a and model_b do not match.*\(64, 16\)"
    ):
        regularizers.ParameterTying(_mlp(0), wide)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m: regularizers.regularize(m, l2=-1e-4),
            r"l2 >= 0. Received: l2=-0.0001",
        ),
        (lambda m: regularizers.regularize(m, l1=-1), "l1=-1"),
        (lambda m: regularizers.regularize_activity(m, l1=-0.5), "l1=-0.5"),
        (
            lambda m: regularizers.regularize_activity(m, layers=["nope"]),
            r"layers=\['nope'\]",
        ),
        (lambda m: regularizers.ParameterTying(m, m, weight=-2), "weight=-2"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(_mlp(0))
