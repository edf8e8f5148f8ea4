"""Tests for kerasreg.losses.SparseCategoricalCrossentropy."""

import keras
import numpy as np
import pytest

from kerasreg import losses
from kerasreg.testing import assert_roundtrip


def _batch(num_classes=7, n=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=n)
    logits = rng.normal(0.0, 3.0, size=(n, num_classes)).astype("float32")
    return labels, logits


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
def test_matches_dense_builtin_on_one_hot_labels(from_logits, label_smoothing):
    labels, logits = _batch()
    y_pred = logits if from_logits else keras.ops.softmax(logits).numpy()
    one_hot = np.eye(7, dtype="float32")[labels]
    dense = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing
    )
    sparse = losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing
    )
    expected = float(dense(one_hot, y_pred))
    np.testing.assert_allclose(float(sparse(labels, y_pred)), expected, rtol=1e-6)
    # (N, 1) labels and sample weights behave like the dense loss too
    np.testing.assert_allclose(
        float(sparse(labels[:, None], y_pred)), expected, rtol=1e-6
    )
    weights = np.linspace(0.0, 1.0, len(labels)).astype("float32")
    np.testing.assert_allclose(
        float(sparse(labels, y_pred, sample_weight=weights)),
        float(dense(one_hot, y_pred, sample_weight=weights)),
        rtol=1e-6,
    )


def test_zero_smoothing_equals_keras_sparse_loss():
    labels, logits = _batch(num_classes=10)
    builtin = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ours = losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(
        float(ours(labels, logits)), float(builtin(labels, logits)), rtol=1e-6
    )


def test_smoothed_target_formula():
    # k = 4, eps = 0.2: target = 0.8 * onehot + 0.05 -> [0.85, 0.05, 0.05, 0.05]
    probs = np.array([[0.7, 0.1, 0.1, 0.1]], "float32")
    value = losses.sparse_categorical_crossentropy([0], probs, label_smoothing=0.2)
    value = float(value.numpy()[0])
    expected = -(0.85 * np.log(0.7) + 3 * 0.05 * np.log(0.1))
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_fit_with_integer_labels(digits):
    x = digits.x_train.reshape(-1, 64)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(
        keras.optimizers.Adam(1e-2),
        losses.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
    )
    model.fit(x, digits.y_train, epochs=5, batch_size=64, verbose=0)
    logits = model.predict(digits.x_test.reshape(-1, 64), verbose=0)
    assert np.mean(logits.argmax(-1) == digits.y_test) > 0.85


def test_roundtrip():
    labels, logits = _batch()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    loaded = assert_roundtrip(loss, (labels, logits))
    assert loaded.loss.label_smoothing == 0.2 and loaded.loss.from_logits


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_bad_label_smoothing(value):
    with pytest.raises(ValueError, match=rf"label_smoothing={value}"):
        losses.SparseCategoricalCrossentropy(label_smoothing=value)
