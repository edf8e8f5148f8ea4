"""Tests for kerasreg.initializers."""

import keras
import numpy as np
import pytest

from kerasreg import initializers, models


def test_initializer_for_activation():
    assert isinstance(initializers.initializer_for("relu"), keras.initializers.HeNormal)
    assert isinstance(
        initializers.initializer_for("leaky_relu"), keras.initializers.HeNormal
    )
    assert isinstance(
        initializers.initializer_for("tanh"), keras.initializers.GlorotNormal
    )
    assert isinstance(
        initializers.initializer_for(keras.activations.sigmoid),
        keras.initializers.GlorotNormal,
    )
    small = initializers.initializer_for("relu", "std0.01", seed=0)
    values = np.asarray(small((200, 100)))
    assert abs(values.std() - 0.01) < 5e-4
    he = np.asarray(initializers.initializer_for("relu", seed=0)((400, 100)))
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.01 * np.sqrt(2 / 400) * 10


def test_initializer_for_errors():
    with pytest.raises(ValueError, match="scheme='kaiming'"):
        initializers.initializer_for("relu", "kaiming")
    with pytest.raises(ValueError, match="activation='exotic'"):
        initializers.initializer_for("exotic")


def test_activation_name():
    assert initializers.activation_name(keras.layers.ReLU()) == "relu"
    assert initializers.activation_name(keras.layers.Activation("tanh")) == "tanh"
    assert initializers.activation_name(keras.layers.Conv2D(2, 3)) is None


def test_reinitialize_auto_follows_the_activation():
    model = models.build("cnn", (8, 8, 1), 10)
    initializers.reinitialize(model, "std0.01", seed=1)
    assert np.std(model.get_layer("fc").kernel.numpy()) == pytest.approx(0.01, rel=0.05)
    initializers.reinitialize(model, "auto", seed=1)
    fc = model.get_layer("fc").kernel.numpy()  # Dense -> BN -> ReLU: He
    assert np.std(fc) == pytest.approx(np.sqrt(2 / fc.shape[0]), rel=0.1)
    logits = model.get_layer("logits").kernel.numpy()  # linear: Glorot
    assert np.std(logits) == pytest.approx(np.sqrt(2 / sum(logits.shape)), rel=0.15)
    assert not model.get_layer("logits").bias.numpy().any()
    with pytest.raises(ValueError, match="scheme='bad'"):
        initializers.reinitialize(model, "bad")


def _deep_mlp(activation, scheme, depth=5, width=100):
    keras.utils.set_random_seed(0)
    init = initializers.initializer_for(activation, scheme, seed=0)
    layers = [keras.Input((width,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(
                width, activation=activation, kernel_initializer=init, name=f"h{i + 1}"
            )
        )
    return keras.Sequential(layers)


def test_activation_stats_reproduce_seed_001(tmp_path):
    x = np.random.default_rng(0).normal(size=(500, 100)).astype("float32")
    small = initializers.activation_stats(_deep_mlp("relu", "std0.01"), x)
    he = initializers.activation_stats(_deep_mlp("relu", "he"), x)
    assert list(he) == ["h1", "h2", "h3", "h4", "h5"]
    # std 0.01: the ReLU activations shrink towards 0 layer by layer; He keeps them
    assert small["h5"]["std"] < 1e-3 * small["h1"]["std"]
    assert 0.7 < he["h5"]["std"] / he["h1"]["std"] < 1.4
    # Xavier under ReLU halves the variance per layer (seed 001: He for ReLU)
    xavier = initializers.activation_stats(_deep_mlp("relu", "xavier"), x)
    assert xavier["h5"]["std"] / xavier["h1"]["std"] < 0.4
    assert 0.4 < he["h3"]["zero_fraction"] < 0.6
    # sigmoid: std 0.01 collapses every unit onto 0.5; Xavier keeps a spread
    sig_small = initializers.activation_stats(_deep_mlp("sigmoid", "std0.01"), x)
    sig_xavier = initializers.activation_stats(_deep_mlp("sigmoid", "xavier"), x)
    assert abs(sig_small["h5"]["mean"] - 0.5) < 0.01
    assert sig_small["h5"]["std"] < 0.2 * sig_xavier["h5"]["std"]
    assert sum(he["h3"]["histogram"]) == x.size
    path = initializers.plot_activation_histograms(
        {"relu std0.01": small, "relu he": he}, str(tmp_path / "hist.png")
    )
    assert (tmp_path / "hist.png").stat().st_size > 1000 and path.endswith(".png")


def test_activation_stats_bad_layer():
    model = _deep_mlp("relu", "he", depth=2)
    with pytest.raises(ValueError, match=r"layers=\['h9'\]"):
        initializers.activation_stats(model, np.ones((2, 100)), layers=["h9"])
