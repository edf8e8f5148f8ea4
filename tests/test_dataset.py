"""kerasreg._dataset: the interface every dataset shares; tf.data pipelines."""

import numpy as np
import pytest

from kerasreg import data
from tests.conftest import arrays, image_pipeline, refused

# --- the interface every dataset shares (arrays here) ---------------------


def test_arrays_share_the_dataset_interface(digits):
    assert digits.value_range == 1.0
    assert (digits.num_train, digits.num_test) == (1437, 360)
    x, y = arrays(digits.batches("test", batch_size=100))
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, digits.x_test)
    np.testing.assert_array_equal(y, digits.y_test)
    x, _ = arrays(digits.batches("test", scale=255))
    np.testing.assert_array_equal(x, digits.x_test * np.float32(255))
    a = arrays(digits.batches("train", shuffle=True, seed=1))[1]
    b = arrays(digits.batches("train", shuffle=True, seed=1))[1]
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == sorted(digits.y_train) and not np.array_equal(a, digits.y_train)
    x, y = digits.sample(5, seed=2)
    index = np.random.default_rng(2).choice(1437, 5, replace=False)
    np.testing.assert_array_equal(x, digits.x_train[index])
    np.testing.assert_array_equal(y, digits.y_train[index])
    assert digits.to_arrays("test")[0] is digits.x_test
    assert data.load(digits) is digits


def test_dataset_is_constructible_as_before():
    x, y = np.zeros((4, 2, 2, 1), np.float32), np.array([0, 1, 0, 1])
    ds = data.Dataset(
        x_train=x,
        y_train=y,
        x_test=x[:2],
        y_test=y[:2],
        class_names=("a", "b"),
        input_shape=(2, 2, 1),
        num_classes=2,
    )
    assert ds.value_range == 1.0 and (ds.num_train, ds.num_test) == (4, 2)
    assert repr(ds) == "Dataset(train=4, test=2, input_shape=(2, 2, 1), num_classes=2)"
    assert isinstance(ds, data.BaseDataset)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"split": "val"},
            "Expected split='train' or split='test'. Received: split='val'",
        ),
        (
            {"split": "train", "batch_size": 0},
            "Expected an int batch_size >= 1. Received: batch_size=0",
        ),
    ],
)
def test_batches_bad_arguments(digits, kwargs, message):
    refused(ValueError, message, digits.batches, **kwargs)


# --- tf.data pipelines ------------------------------------------------------


def test_pipeline_unbatched_uint8():
    train, x, y = image_pipeline()
    ds = data.load(train)
    assert isinstance(ds, data.PipelineDataset)
    assert ds.input_shape == (4, 4, 3) and ds.value_range == 255.0
    assert ds.num_classes == 3 and ds.class_names == ("0", "1", "2")
    assert (ds.num_train, ds.num_test) == (10, 0)
    xb, yb = arrays(ds.batches("train", batch_size=4))
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb, x.astype("float32"))
    np.testing.assert_array_equal(yb, y)
    np.testing.assert_array_equal(ds.sample(3)[0], x[:3].astype("float32"))
    refused(
        ValueError,
        "This dataset has no test split: pass one with "
        "kerasreg.data.load(train_ds, test=test_ds).",
        ds.batches,
        "test",
    )
    refused(
        AttributeError,
        "PipelineDataset keeps its images out of memory, so it has no x_train: "
        "read batches with .batches('train') or .batches('test'), or a small "
        "split whole with .to_arrays(split).",
        getattr,
        ds,
        "x_train",
    )


def test_pipeline_batched_with_test_and_class_names():
    train, x, y = image_pipeline()
    test, x_test, _ = image_pipeline(n=4, seed=1)
    ds = data.load(train.batch(3), test=test.batch(2), class_names=["a", "b", "c"])
    assert ds.class_names == ("a", "b", "c") and ds.input_shape == (4, 4, 3)
    assert (ds.num_train, ds.num_test) == (10, 4)  # counted on first use
    np.testing.assert_array_equal(arrays(ds.batches("train", 5))[0], x)
    np.testing.assert_array_equal(ds.to_arrays("test")[0], x_test)


def test_pipeline_one_hot_float_labels():
    import tensorflow as tf

    x = np.random.default_rng(0).random((6, 4, 4, 1), np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 4, 2, 2, 1, 0]]
    ds = data.load(tf.data.Dataset.from_tensor_slices((x, y)), value_range=1.0)
    assert ds.num_classes == 5 and ds.value_range == 1.0
    np.testing.assert_array_equal(ds.to_arrays()[1], [0, 4, 2, 2, 1, 0])


def test_pipeline_from_keras_image_dataset_from_directory(tmp_path):
    import keras
    from PIL import Image

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (5, 6), (i, 0, 0)).save(tmp_path / name / f"{i}.png")
    source = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(6, 5), batch_size=2, verbose=False
    )
    ds = data.load(source, value_range=255.0)
    assert ds.class_names == ("cat", "dog") and ds.input_shape == (6, 5, 3)
    assert ds.num_train == 6
    refused(
        ValueError,
        "Cannot tell the range of float32 images: pass value_range=255.0 for "
        "images in [0, 255] (what keras.utils.image_dataset_from_directory "
        "yields) or value_range=1.0 for [0, 1]. Received: value_range=None",
        data.load,
        source,
    )


def test_pipeline_bad_specs():
    import tensorflow as tf

    images = tf.data.Dataset.from_tensor_slices(np.zeros((2, 4, 4, 3), np.uint8))
    refused(
        ValueError,
        "The train pipeline must yield (image, label) pairs. Received: "
        f"element_spec={images.element_spec}",
        data.load,
        images,
    )
    ragged = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 4, 4, 3), np.uint8), [0, 1])
    ).map(lambda x, y: (tf.image.crop_to_bounding_box(x, 0, 0, y + 1, 4), y))
    refused(
        ValueError,
        "The train pipeline yields images of unknown size (None, 4, 3); resize "
        "them to one size first, e.g. with "
        "ds.map(lambda x, y: (tf.image.resize(x, (h, w)), y)).",
        data.load,
        ragged,
    )
