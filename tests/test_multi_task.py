"""kerasreg.multitask: a shared trunk, dict targets, missing labels, compression."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg.compression import NetworkSlimming, TFLiteModel, shrink, to_tflite
from kerasreg.multi_task import MISSING, LabelledAccuracy
from kerasreg.testing import assert_roundtrip


def _trunk(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))


def _model(**kwargs):
    heads = {
        "label": keras.layers.Dense(10),
        "rotation": [keras.layers.Dense(6, activation="relu"), keras.layers.Dense(4)],
    }
    return kerasreg.multitask(_trunk(), heads, **kwargs)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    label = rng.integers(0, 10, 64)
    label[16:] = MISSING  # a quarter labelled, as in semi-supervised use
    return x, {"label": label, "rotation": rng.integers(0, 4, 64)}


def _cross_entropy(labels, logits):
    logits = np.asarray(logits, "float64")
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(labels)), labels]))


def test_loss_skips_missing_labels_and_weighs_each_head(data):
    x, y = data
    model = _model(loss_weights={"rotation": 0.25})
    logs = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    label_loss = _cross_entropy(y["label"][:16], out["label"][:16])
    rotation_loss = _cross_entropy(y["rotation"], out["rotation"])
    assert logs["label_loss"] == pytest.approx(label_loss, rel=1e-4)
    assert logs["rotation_loss"] == pytest.approx(rotation_loss, rel=1e-4)
    assert logs["loss"] == pytest.approx(label_loss + 0.25 * rotation_loss, rel=1e-4)
    hits = np.argmax(out["label"][:16], -1) == y["label"][:16]
    assert logs["label_accuracy"] == pytest.approx(hits.mean())


def test_labelled_accuracy_leaves_missing_targets_out():
    metric = LabelledAccuracy()
    metric.update_state([2, MISSING, 1, MISSING], np.eye(3)[[2, 0, 0, 1]])
    assert float(metric.result()) == 0.5


def test_it_trains_on_dict_targets_and_round_trips(data, tmp_path):
    x, y = data
    model = _model()
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    restored = assert_roundtrip(model, x[:4], atol=1e-5)
    assert sorted(restored(x[:4])) == ["label", "rotation"]


def test_shrink_slimming_and_export_keep_the_dict(data, tmp_path):
    x, y = data
    model = _model()
    slimming = NetworkSlimming(l1=1e-3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[slimming])
    bn = next(
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    gamma = bn.gamma.numpy()
    gamma[:3] = 0.0
    bn.gamma.assign(gamma)
    slim = shrink(model)
    assert slim.count_params() < model.count_params()
    before, after = model.predict(x, verbose=0), slim.predict(x, verbose=0)
    assert sorted(after) == ["label", "rotation"]
    for task in before:
        np.testing.assert_allclose(after[task], before[task], atol=1e-5)
    path = to_tflite(slim, tmp_path / "slim.tflite", "float32")
    exported = TFLiteModel(path).predict(x)
    for task in before:
        np.testing.assert_allclose(exported[task], before[task], atol=1e-4)


def test_bad_arguments_name_themselves():
    with pytest.raises(
        ValueError, match=r"Expected at least one head. Received: heads=\{\}"
    ):
        kerasreg.multitask(_trunk(), {})
    with pytest.raises(ValueError, match=r"loss_weights names no head: \['rotaton'\]"):
        kerasreg.multitask(
            _trunk(), {"rotation": keras.layers.Dense(4)}, loss_weights={"rotaton": 1.0}
        )
    with pytest.raises(ValueError, match="Expected trunk to be a built functional"):
        kerasreg.multitask(
            keras.Sequential([keras.layers.Dense(3)]), {"a": keras.layers.Dense(2)}
        )
