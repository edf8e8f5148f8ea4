"""kerasreg.data: every source and every bad-input path."""

import os

import numpy as np
import pytest

from kerasreg import data
from tests.conftest import MNIST_PATH, image_pipeline, refused


def test_digits_shape_range_and_stratified_split(digits):
    assert digits.x_train.shape == (1437, 8, 8, 1)
    assert digits.x_test.shape == (360, 8, 8, 1)
    assert digits.x_train.dtype == np.float32
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    assert digits.input_shape == (8, 8, 1) and digits.num_classes == 10
    assert digits.class_names == tuple(str(i) for i in range(10))
    # Stratified: every class holds 20% ± 1 sample in the test split.
    counts = np.bincount(digits.y_test, minlength=10)
    totals = counts + np.bincount(digits.y_train, minlength=10)
    assert np.all(np.abs(counts - 0.2 * totals) <= 1)


def test_digits_split_is_fixed_per_seed():
    a, b, c = data.load("digits"), data.load("digits"), data.load("digits", seed=1)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_npz_uint8_three_dimensional(tmp_path):
    rng = np.random.default_rng(0)
    path = _write_npz(
        tmp_path / "d.npz",
        x_train=rng.integers(0, 256, (20, 5, 6), dtype=np.uint8),
        y_train=rng.integers(0, 3, 20),
        x_test=np.full((4, 5, 6), 255, np.uint8),
        y_test=np.array([0, 1, 2, 2]),
    )
    ds = data.load(path)
    assert ds.x_train.shape == (20, 5, 6, 1) and ds.x_train.dtype == np.float32
    assert ds.x_test.max() == 1.0
    assert ds.num_classes == 3 and ds.input_shape == (5, 6, 1)


def test_npz_float_images_in_0_255_are_scaled(tmp_path):
    x = np.full((3, 4, 4, 3), 127.5, np.float32)
    path = _write_npz(
        tmp_path / "f.npz", x_train=x, y_train=[0, 1, 0], x_test=x, y_test=[1, 0, 1]
    )
    np.testing.assert_allclose(data.load(path).x_train, 0.5)


@pytest.mark.skipif(not os.path.exists(MNIST_PATH), reason="shared MNIST copy absent")
def test_real_mnist_npz():
    ds = data.load(MNIST_PATH)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (
        10000,
        28,
        28,
        1,
    )
    assert ds.num_classes == 10 and ds.x_train.max() == 1.0


def test_keras_datasets_offline_error_says_where_to_put_files(monkeypatch, tmp_path):
    import keras

    def offline():
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(FileNotFoundError, match=r"Put mnist.npz in .*\.keras.datasets"):
        data.load("mnist")


def test_keras_datasets_cached_copy_is_used(monkeypatch):
    import keras

    rng = np.random.default_rng(0)
    cached = (
        (
            rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, (10, 1)),
        ),
        (
            rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, (5, 1)),
        ),
    )
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: cached)
    ds = data.load("cifar10")
    assert ds.input_shape == (32, 32, 3) and ds.class_names[0] == "airplane"
    assert ds.y_train.shape == (10,)


def test_unknown_source():
    with pytest.raises(ValueError, match=r"Unknown data source: source='svhn'"):
        data.load("svhn")


def test_missing_npz_file():
    with pytest.raises(ValueError, match=r"No such .npz file"):
        data.load("/nonexistent/file.npz")


def test_missing_npz_keys(tmp_path):
    path = _write_npz(tmp_path / "m.npz", x_train=np.zeros((2, 4, 4)), y_train=[0, 1])
    with pytest.raises(ValueError, match=r"missing the keys \['x_test', 'y_test'\]"):
        data.load(path)


def test_mismatched_lengths(tmp_path):
    x = np.zeros((3, 4, 4), np.uint8)
    path = _write_npz(
        tmp_path / "l.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[0, 1, 1]
    )
    with pytest.raises(
        ValueError, match=r"x_train and y_train have different lengths: 3 and 2"
    ):
        data.load(path)


def test_nan_inputs(tmp_path):
    x = np.zeros((2, 4, 4), np.float32)
    x[0, 0, 0] = np.nan
    path = _write_npz(
        tmp_path / "n.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[0, 1]
    )
    with pytest.raises(ValueError, match=r"x_train contains NaN"):
        data.load(path)


def test_negative_labels(tmp_path):
    x = np.zeros((2, 4, 4), np.uint8)
    path = _write_npz(
        tmp_path / "y.npz", x_train=x, y_train=[0, -1], x_test=x, y_test=[0, 1]
    )
    with pytest.raises(ValueError, match=r"Labels in y_train must lie in \[0, 2\)"):
        data.load(path)


def test_bad_image_rank(tmp_path):
    x = np.zeros((2, 16), np.uint8)
    path = _write_npz(
        tmp_path / "r.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[0, 1]
    )
    with pytest.raises(ValueError, match=r"x_train must have shape \(N, H, W\)"):
        data.load(path)


def test_validation_split_shuffles_then_splits():
    x = np.arange(100).reshape(100, 1)
    y = np.arange(100)
    (xt, yt), (xv, yv) = data.validation_split(x, y, rate=0.2, seed=0)
    assert len(xv) == 20 and len(xt) == 80
    np.testing.assert_array_equal(xt[:, 0], yt)  # pairs stay aligned
    assert sorted(np.r_[yt, yv].tolist()) == list(range(100))  # nothing lost
    assert yv.tolist() != list(range(20))  # shuffled first
    (_, _), (xv2, _) = data.validation_split(x, y, rate=0.2, seed=0)
    np.testing.assert_array_equal(xv, xv2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rate": 1.0}, r"Expected 0 < rate < 1. Received: rate=1.0"),
        ({"rate": 0.01}, r"leaves an empty split"),
    ],
)
def test_validation_split_bad_rate(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.validation_split(np.zeros((10, 1)), np.zeros(10), **kwargs)


def test_validation_split_mismatched_lengths():
    with pytest.raises(ValueError, match=r"len\(x\)=10, len\(y\)=9"):
        data.validation_split(np.zeros((10, 1)), np.zeros(9))


# --- the input-range rule ---------------------------------------------------


def _model(first=None, nest=False):
    import keras

    layers = [first] if first is not None else []
    layers.append(keras.layers.Flatten())
    if nest:
        return keras.Sequential([keras.Input((8, 8, 1)), keras.Sequential(layers)])
    inputs = keras.Input((8, 8, 1))
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs)  # functional: .layers holds the InputLayer


def test_input_scale_rule(digits):
    import keras
    import tensorflow as tf

    rescaling = keras.layers.Rescaling
    folder_like = data.load(
        tf.data.Dataset.from_tensor_slices(
            (np.zeros((2, 8, 8, 1), np.uint8), np.array([0, 1]))
        )
    )
    assert folder_like.value_range == 255.0
    assert data.input_scale(_model(rescaling(1 / 255)), digits) == 255.0
    assert data.input_scale(_model(rescaling(1 / 255), nest=True), digits) == 255.0
    assert data.input_scale(_model(), digits) == 1.0
    assert data.input_scale(_model(keras.layers.ReLU()), digits) == 1.0
    assert data.input_scale(_model(rescaling(1 / 255)), folder_like) == 1.0
    assert data.input_scale(_model(), folder_like) == 1 / 255


# --- options a source does not take -----------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"image_size": (8, 8)},
            "image_size= applies to image folders only. "
            "Received: image_size=(8, 8) with source='digits'",
        ),
        (
            {"value_range": 255},
            "value_range= applies to tf.data.Dataset sources only. "
            "Received: value_range=255 with source='digits'",
        ),
    ],
)
def test_options_the_source_does_not_take(kwargs, message):
    refused(ValueError, message, data.load, "digits", **kwargs)


def test_folder_options_refused_for_pipelines():
    train, _, _ = image_pipeline()
    refused(
        ValueError,
        "color_mode= applies to image folders only. "
        "Received: color_mode='rgb' with source=a tf.data.Dataset",
        data.load,
        train,
        color_mode="rgb",
    )


# --- paths and .npz files that are not what they claim -----------------------


def test_missing_path_is_file_not_found():
    refused(
        FileNotFoundError,
        "No such file or directory: source='/nonexistent/folder'",
        data.load,
        "/nonexistent/folder",
    )


def test_npz_that_is_not_an_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_text("certainly not numpy")
    message = (
        f"{path} is not an .npz archive: expected a file written by numpy.savez "
        "holding x_train, y_train, x_test, y_test."
    )
    refused(ValueError, message, data.load, str(path))
    npy = tmp_path / "array.npz"
    np.save(npy.open("wb"), np.zeros(3))  # an .npy file under an .npz name
    refused(ValueError, message.replace(str(path), str(npy)), data.load, str(npy))


def test_npz_truncated_or_with_objects(tmp_path):
    x = np.zeros((2, 4, 4), np.uint8)
    whole = tmp_path / "whole.npz"
    np.savez(whole, x_train=x, y_train=[0, 1], x_test=x, y_test=[0, 1])
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"cut\.npz is not a readable \.npz archive: "):
        data.load(str(cut))
    objects = tmp_path / "objects.npz"
    y_objects = np.array([0, None], dtype=object)
    np.savez(objects, x_train=x, y_train=y_objects, x_test=x, y_test=[0, 1])
    message = (
        f"{objects}: y_train holds Python objects, not numbers; save it as a "
        "numeric array with numpy.savez."
    )
    with pytest.raises(ValueError) as info:
        data.load(str(objects))
    assert str(info.value) == message and "allow_pickle" not in message


# --- a model's input against the data ----------------------------------------


def test_check_input_shape(digits):
    import keras

    def model(shape):
        return keras.Sequential([keras.Input(shape), keras.layers.Flatten()])

    data.check_input_shape(model((8, 8, 1)), digits)
    data.check_input_shape(model((None, None, 1)), digits)  # any size
    with pytest.raises(ValueError) as error:
        data.check_input_shape(model((32, 32, 3)), digits)
    assert str(error.value) == (
        "The model takes inputs of shape (32, 32, 3), but the data has images "
        "of shape (8, 8, 1). Resize the images (load(folder, image_size=(32, 32)), "
        "or --image-size 32x32) or use a model that takes (8, 8, 1)."
    )
    with pytest.raises(ValueError) as error:
        data.check_input_shape(model((64,)), digits)
    assert str(error.value).endswith(
        "images of shape (8, 8, 1). Use a model that takes (8, 8, 1)."
    )

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    data.check_input_shape(Subclassed(), digits)  # no defined input: unchecked


def test_check_input_shape_looks_through_a_distiller(digits):
    from kerasreg.compression import Distiller
    from kerasreg.models import build

    teacher = build("cnn-tiny", (16, 16, 1), 10)
    student = build("cnn-tiny", (16, 16, 1), 10)
    with pytest.raises(ValueError, match=r"takes inputs of shape \(16, 16, 1\)"):
        data.check_input_shape(Distiller(student, teacher, 2.0, 0.5, 0.5), digits)
