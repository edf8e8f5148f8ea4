"""kerasreg._image_folder and _image_files: image folders, checked and streamed."""

import io
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasreg import data
from kerasreg._image_folder import IMAGE_FORMATS
from tests.conftest import arrays, refused

CIFAR_DIR = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "cifar10"
)


def _image(pixels):
    """A PIL image of uint8 `pixels` (H, W, C) with 1, 3 or 4 channels."""
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[-1]]
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def _write(path, pixels, fmt="PNG"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _image(pixels).save(path, fmt)
    return str(path)


def _encoded(fmt):
    pixels = np.random.default_rng(0).integers(0, 256, (48, 48, 3), np.uint8)
    buffer = io.BytesIO()
    _image(pixels).save(buffer, fmt)
    return buffer.getvalue()


_BMP = _encoded("BMP")


def _folder(root, counts, size=(6, 5), channels=3, seed=0):
    """Class folders of random PNGs: {class: n images}; returns {path: pixels}."""
    rng = np.random.default_rng(seed)
    written = {}
    for name, n in counts.items():
        for i in range(n):
            pixels = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            written[_write(os.path.join(root, name, f"{i:03d}.png"), pixels)] = pixels
    return written


def _keras(directory, **kwargs):
    return keras.utils.image_dataset_from_directory(
        directory, shuffle=False, batch_size=4, verbose=False, **kwargs
    )


# --- layouts, class names, splits ----------------------------------------


def test_class_folders_are_split_80_20_per_class(tmp_path):
    _folder(tmp_path, {"a": 10, "b": 5, "c": 3})
    ds = data.load(tmp_path)
    assert isinstance(ds, data.ImageFolderDataset)
    assert ds.class_names == ("a", "b", "c") and ds.num_classes == 3
    assert (ds.num_train, ds.num_test) == (14, 4)
    train = [p.split(os.sep)[-2] for p in ds.file_paths("train")]
    test = [p.split(os.sep)[-2] for p in ds.file_paths("test")]
    assert [test.count(c) for c in "abc"] == [2, 1, 1]
    assert [train.count(c) for c in "abc"] == [8, 4, 2]
    assert not set(ds.file_paths("train")) & set(ds.file_paths("test"))
    _, labels = ds.to_arrays("test")
    np.testing.assert_array_equal(labels, [0, 0, 1, 2])


def test_split_is_fixed_per_seed(tmp_path):
    _folder(tmp_path, {"a": 10, "b": 10})
    a, b = data.load(tmp_path), data.load(tmp_path)
    c = data.load(tmp_path, seed=1)
    assert a.file_paths("test") == b.file_paths("test")
    assert a.file_paths("test") != c.file_paths("test")


@pytest.mark.parametrize("held_out", ["test", "val", "validation"])
def test_train_and_held_out_folders(tmp_path, held_out):
    _folder(tmp_path / "train", {"cat": 3, "dog": 2})
    _folder(tmp_path / held_out, {"cat": 1, "dog": 2}, seed=1)
    ds = data.load(tmp_path)
    assert ds.class_names == ("cat", "dog")
    assert (ds.num_train, ds.num_test) == (5, 3)
    assert ds.file_paths("test") == _keras(tmp_path / held_out).file_paths


def test_test_folder_wins_over_val(tmp_path):
    _folder(tmp_path / "train", {"a": 2})
    _folder(tmp_path / "test", {"a": 1})
    _folder(tmp_path / "val", {"a": 3})
    assert data.load(tmp_path).num_test == 1


def test_class_names_and_file_order_are_keras_own(tmp_path):
    root = tmp_path / "train"
    _folder(root, {"b": 1, "a": 1, "10": 1, "9": 1, "B": 1})
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    _write(root / "a" / "nested" / "x.png", pixels)  # Keras searches recursively
    _write(root / "a" / "Z.PNG", pixels)
    _folder(tmp_path / "test", {"b": 1, "a": 1, "10": 1, "9": 1, "B": 1})
    ds = data.load(tmp_path)
    reference = _keras(root)
    assert ds.class_names == tuple(reference.class_names) == ("10", "9", "B", "a", "b")
    assert ds.file_paths("train") == reference.file_paths


def test_every_keras_format_is_read(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    for ext, fmt in [
        ("jpg", "JPEG"),
        ("jpeg", "JPEG"),
        ("JPG", "JPEG"),
        ("png", "PNG"),
        ("bmp", "BMP"),
        ("gif", "GIF"),
    ]:
        for split in ("train", "test"):
            _write(tmp_path / split / "a" / f"x.{ext}", pixels, fmt)
    (tmp_path / "train" / "a" / "notes.txt").write_text("not an image")
    ds = data.load(tmp_path)
    assert ds.num_train == 6 and ds.input_shape == (6, 5, 3)
    assert ds.file_paths("train") == _keras(tmp_path / "train").file_paths
    assert IMAGE_FORMATS == (".bmp", ".gif", ".jpeg", ".jpg", ".png")
    images, _ = ds.to_arrays("train")
    for image, path in zip(images, ds.file_paths("train")):
        if path.lower().endswith((".png", ".bmp", ".gif")):  # lossless, or nearly
            assert np.abs(image - pixels).max() <= (64 if "gif" in path else 0)


# --- values: sizes, color modes, resizing ---------------------------------


@pytest.mark.parametrize(
    "channels, color_mode, image_size",
    [(3, None, None), (1, None, None), (4, None, None), (3, None, (4, 3))],
)
def test_images_equal_keras_own(tmp_path, channels, color_mode, image_size):
    _folder(tmp_path / "train", {"a": 2, "b": 3}, channels=channels)
    _folder(tmp_path / "test", {"a": 3, "b": 2}, channels=channels, seed=1)
    ds = data.load(tmp_path, color_mode=color_mode, image_size=image_size)
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    assert ds.color_mode == mode and ds.value_range == 255.0
    assert ds.input_shape == (*(image_size or (6, 5)), channels)
    reference = _keras(
        tmp_path / "test", image_size=image_size or (6, 5), color_mode=mode
    )
    x, y = arrays(ds.batches("test", batch_size=2))
    x_ref, y_ref = arrays(reference)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_color_mode_override_converts(tmp_path):
    written = _folder(tmp_path, {"a": 5}, channels=1)
    ds = data.load(tmp_path, color_mode="rgb")
    assert ds.input_shape == (6, 5, 3)
    images, _ = ds.to_arrays("train")
    first = written[ds.file_paths("train")[0]][..., 0]
    for c in range(3):
        np.testing.assert_array_equal(images[0, ..., c], first)


def test_formats_tensorflow_cannot_decode_to_the_mode_are_converted(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (6, 5, 1), dtype=np.uint8)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    for split in ("train", "test"):
        _write(tmp_path / split / "a" / "gray.bmp", gray, "BMP")  # 8-bit BMP
        _write(tmp_path / split / "a" / "gray.png", gray)
    ds = data.load(tmp_path)  # decode_bmp refuses channels=1: converted
    assert ds.color_mode == "grayscale"
    np.testing.assert_array_equal(ds.to_arrays("test")[0], np.stack([gray, gray]))
    for split in ("train", "test"):
        _write(tmp_path / split / "b" / "rgb.gif", rgb, "GIF")
        _write(tmp_path / split / "b" / "rgb.jpg", rgb, "JPEG")
    ds = data.load(tmp_path, color_mode="rgba")  # no RGBA from GIF or JPEG
    images, _ = ds.to_arrays("test")
    assert images.shape == (4, 6, 5, 4)
    np.testing.assert_array_equal(images[..., 3], 255)
    np.testing.assert_array_equal(images[0, ..., :3], np.repeat(gray, 3, -1))
    ds = data.load(tmp_path, color_mode="grayscale")
    gif = tf.io.decode_gif((tmp_path / "test" / "b" / "rgb.gif").read_bytes())[0]
    expected = tf.cast(tf.image.rgb_to_grayscale(gif), tf.float32)
    np.testing.assert_array_equal(ds.to_arrays("test")[0][2], expected)


def test_mixed_color_modes_convert_when_asked(tmp_path):
    _folder(tmp_path / "train", {"a": 2}, channels=1)
    _folder(tmp_path / "test", {"a": 2}, channels=3)
    assert data.load(tmp_path, color_mode="grayscale").input_shape == (6, 5, 1)


def test_mixed_sizes_resize_when_asked(tmp_path):
    _folder(tmp_path / "train", {"a": 2}, size=(6, 5))
    _folder(tmp_path / "test", {"a": 2}, size=(8, 8))
    ds = data.load(tmp_path, image_size=(4, 4))
    x, _ = ds.to_arrays("test")
    assert x.shape == (2, 4, 4, 3) and x.dtype == np.float32


# --- batches, sample, caching ----------------------------------------------


def test_batches_shapes_dtypes_values_and_scale(tmp_path):
    written = _folder(tmp_path / "train", {"a": 3, "b": 4})
    _folder(tmp_path / "test", {"a": 1, "b": 1}, seed=1)
    ds = data.load(tmp_path)
    images, labels = next(iter(ds.batches("train", batch_size=4)))
    assert images.shape == (4, 6, 5, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int64
    expected = np.stack([written[p] for p in ds.file_paths("train")]).astype("float32")
    x, y = arrays(ds.batches("train", batch_size=4))
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1, 1])
    x, _ = arrays(ds.batches("train", scale=1 / 255))
    np.testing.assert_array_equal(x, expected * np.float32(1 / 255))
    x, _ = arrays(ds.batches("train", augment=lambda images: images[:, ::-1]))
    np.testing.assert_array_equal(x, expected[:, ::-1])
    sizes = [len(y) for _, y in ds.batches("train", batch_size=3, repeat=True).take(4)]
    assert sizes == [3, 3, 3, 3]


def test_shuffle_is_seeded_and_reshuffles_every_epoch(tmp_path):
    _folder(tmp_path, {"a": 10, "b": 10})
    ds = data.load(tmp_path)
    first = arrays(ds.batches("train", shuffle=True, seed=3))[1]
    again = arrays(ds.batches("train", shuffle=True, seed=3))[1]
    np.testing.assert_array_equal(first, again)
    assert sorted(first) == sorted(arrays(ds.batches("train"))[1])
    assert not np.array_equal(first, np.sort(first))
    epochs = ds.batches("train", shuffle=True, seed=3)
    x1, _ = arrays(epochs)
    x2, _ = arrays(epochs)
    assert not np.array_equal(x1, x2)


def test_both_splits_share_one_cache_budget(tmp_path):
    _folder(tmp_path, {"a": 10, "b": 10})  # split 16 train / 4 test, 6x5 RGB
    train, test = 16 * 6 * 5 * 3, 4 * 6 * 5 * 3
    assert data.load(tmp_path, cache_bytes=train + test)._cache_plan() == {
        "train",
        "test",
    }
    assert data.load(tmp_path, cache_bytes=train + test - 1)._cache_plan() == {"train"}
    assert data.load(tmp_path, cache_bytes=train - 1)._cache_plan() == {"test"}


def test_streaming_gives_the_cached_batches(tmp_path):
    _folder(tmp_path, {"a": 10, "b": 10})
    cached, streamed = data.load(tmp_path), data.load(tmp_path, cache_bytes=0)
    assert cached.decoded_bytes("train") == 16 * 6 * 5 * 3  # uint8, not resized
    assert cached.cache_bytes == 2**29 and streamed.cache_bytes == 0
    for kwargs in ({}, {"shuffle": True, "seed": 5}):
        a, b = (
            cached.batches("train", 3, **kwargs),
            streamed.batches("train", 3, **kwargs),
        )
        for _ in range(2):  # two epochs each
            for x, y in zip(arrays(a), arrays(b)):
                np.testing.assert_array_equal(x, y)
    for path in cached.file_paths("train"):
        os.remove(path)
    # The cache was filled above; the stream reads the files every epoch.
    assert arrays(cached.batches("train"))[0].shape == (16, 6, 5, 3)
    with pytest.raises(tf.errors.NotFoundError):
        arrays(streamed.batches("train"))


def test_sample_reads_only_the_drawn_images(tmp_path):
    written = _folder(tmp_path, {"a": 10, "b": 10})
    ds = data.load(tmp_path)
    x, y = ds.sample(3, seed=1)
    assert x.shape == (3, 6, 5, 3) and x.dtype == np.float32 and y.dtype == np.int64
    train = [written[p].astype("float32") for p in ds.file_paths("train")]
    assert all(any(np.array_equal(image, t) for t in train) for image in x)
    np.testing.assert_array_equal(ds.sample(3, seed=1)[0], x)
    assert not np.array_equal(ds.sample(3, seed=2)[0], x)
    assert ds.sample(100, split="test")[0].shape == (4, 6, 5, 3)
    np.testing.assert_array_equal(ds.sample(3, seed=1, scale=0.5)[0], x * 0.5)


def test_arrays_are_not_loaded_silently(tmp_path):
    _folder(tmp_path, {"a": 5})
    ds = data.load(tmp_path)
    refused(
        AttributeError,
        "ImageFolderDataset keeps its images out of memory, so it has no x_train: "
        "read batches with .batches('train') or .batches('test'), or a small split "
        "whole with .to_arrays(split).",
        getattr,
        ds,
        "x_train",
    )
    assert not hasattr(ds, "y_test")
    refused(
        ValueError,
        "The train split takes 0 MiB as float32, more than max_bytes=10. "
        "Stream it with batches('train') or raise max_bytes.",
        ds.to_arrays,
        max_bytes=10,
    )
    refused(
        ValueError,
        "Expected split='train' or split='test'. Received: split='val'",
        ds.batches,
        "val",
    )


# --- the input-range rule ---------------------------------------------------


def _conv_bn(rescale):
    keras.utils.set_random_seed(1)
    layers = [keras.Input((8, 8, 3))]
    layers += [keras.layers.Rescaling(1 / 255)] if rescale else []
    layers += [
        keras.layers.Conv2D(4, 3),
        keras.layers.BatchNormalization(momentum=0.5),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2),
    ]
    model = keras.Sequential(layers)
    model.compile(
        keras.optimizers.Adam(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_input_scale_feeds_each_model_what_plain_keras_feeds_it(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 6)):
        for label, name in enumerate(("dark", "light")):
            for i in range(n):
                low = 40 + 120 * label
                pixels = rng.integers(low, low + 90, (8, 8, 3), dtype=np.uint8)
                _write(tmp_path / split / name / f"{i}.jpg", pixels, "JPEG")
    ds = data.load(tmp_path)
    raw = _keras(tmp_path / "test", image_size=(8, 8))
    for rescale, reference in (
        (True, raw),
        (False, raw.map(lambda x, y: (x / 255, y))),
    ):
        model = _conv_bn(rescale)
        scale = data.input_scale(model, ds)
        assert scale == (1.0 if rescale else 1 / 255)
        train = ds.batches("train", 4, shuffle=True, scale=scale)
        model.fit(train, epochs=4, shuffle=False, verbose=0)  # shuffled above
        ours = model.evaluate(ds.batches("test", 4, scale=scale), verbose=0)
        keras_own = model.evaluate(reference, verbose=0)
        assert ours[1] == keras_own[1] == 1.0  # dark vs light is learned
        np.testing.assert_allclose(ours[0], keras_own[0], rtol=1e-6)
        wrong = model.evaluate(ds.batches("test", 4, scale=scale * 2), verbose=0)
        assert abs(wrong[0] - ours[0]) > 1e-3


# --- bad input: one line naming the file or folder -----------------------


def test_missing_path(tmp_path):
    path = str(tmp_path / "nope")
    message = f"No such file or directory: source={path!r}"
    refused(FileNotFoundError, message, data.load, path)


def test_empty_folder(tmp_path):
    message = (
        f"No class folders in {tmp_path}: expected one folder of images per class, "
        "or train/ and test/ folders of class folders."
    )
    refused(ValueError, message, data.load, tmp_path)


def test_images_without_class_folders(tmp_path):
    pixels = np.zeros((4, 4, 3), np.uint8)
    _write(tmp_path / "a.png", pixels)
    _write(tmp_path / "b.png", pixels)
    message = (
        f"No class folders in {tmp_path} (it holds 2 images directly): expected one "
        "folder of images per class, or train/ and test/ folders of class folders."
    )
    refused(ValueError, message, data.load, tmp_path)


def test_class_folder_without_images(tmp_path):
    _folder(tmp_path, {"a": 5})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("empty")
    message = (
        f"Class folder {tmp_path / 'b'} holds no images: expected files ending in "
        ".bmp, .gif, .jpeg, .jpg, .png."
    )
    refused(ValueError, message, data.load, tmp_path)


def test_class_folders_differ_between_train_and_test(tmp_path):
    _folder(tmp_path / "train", {"a": 1, "b": 1, "c": 1})
    _folder(tmp_path / "test", {"a": 1, "d": 1, "e": 1})
    message = (
        f"Class folders differ between {tmp_path / 'train'} and {tmp_path / 'test'}: "
        "only in train/: ['b', 'c']; only in test/: ['d', 'e']. Give both the same "
        "class folders."
    )
    refused(ValueError, message, data.load, tmp_path)


@pytest.mark.parametrize(
    "content, reason",
    [
        (_encoded("JPEG")[:-200], "truncated JPEG (no end-of-image marker FF D9)"),
        (_encoded("JPEG")[:100], "truncated JPEG (no image data)"),
        (_encoded("PNG")[:-20], "truncated PNG (no IEND chunk)"),
        (_encoded("GIF")[:-10], "truncated GIF (no trailer byte 3B)"),
        (
            _BMP[:-30],
            f"truncated BMP ({len(_BMP) - 30} bytes; its header needs {len(_BMP)})",
        ),
        (
            b"hello world",
            "not a JPEG, PNG, BMP or GIF image (it starts with b'hello wo')",
        ),
        (b"", "empty file"),
    ],
)
def test_corrupt_image(tmp_path, content, reason):
    _folder(tmp_path, {"a": 5})
    bad = tmp_path / "a" / "bad.jpg"
    bad.write_bytes(content)
    message = f"Corrupt image {bad}: {reason}. Remove or replace it."
    refused(ValueError, message, data.load, tmp_path)


def test_several_corrupt_images_are_counted(tmp_path):
    _folder(tmp_path, {"a": 5})
    for name in ("x.png", "y.png", "z.png"):
        (tmp_path / "a" / name).write_bytes(b"junk")
    message = (
        f"Corrupt image {tmp_path / 'a' / 'x.png'}: not a JPEG, PNG, BMP or GIF "
        "image (it starts with b'junk') (2 more bad files after it). Remove or "
        "replace it."
    )
    refused(ValueError, message, data.load, tmp_path)


def test_mixed_grayscale_and_rgb(tmp_path):
    _folder(tmp_path / "train", {"a": 2}, channels=3)
    _folder(tmp_path / "test", {"a": 2}, channels=1)
    gray, rgb = (
        tmp_path / "test" / "a" / "000.png",
        tmp_path / "train" / "a" / "000.png",
    )
    message = (
        f"Images mix color modes: {gray} is grayscale, {rgb} is rgb; pass "
        "color_mode='rgb' (or 'grayscale', 'rgba') to convert them all."
    )
    refused(ValueError, message, data.load, tmp_path)


def test_mixed_sizes(tmp_path):
    _folder(tmp_path / "train", {"a": 2}, size=(6, 5))
    _folder(tmp_path / "test", {"a": 2}, size=(8, 7))
    first, other = (
        tmp_path / "train" / "a" / "000.png",
        tmp_path / "test" / "a" / "000.png",
    )
    message = (
        f"Images differ in size: {first} is 6x5, {other} is 8x7 (height x width); "
        "pass image_size=(height, width) to resize them all."
    )
    refused(ValueError, message, data.load, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"image_size": 32},
            "Expected image_size=(height, width), two positive ints. "
            "Received: image_size=32",
        ),
        (
            {"color_mode": "bgr"},
            "Expected color_mode to be one of 'grayscale', 'rgb', 'rgba'. "
            "Received: color_mode='bgr'",
        ),
        (
            {"cache_bytes": -1},
            "Expected an int cache_bytes >= 0. Received: cache_bytes=-1",
        ),
    ],
)
def test_bad_options(tmp_path, kwargs, message):
    _folder(tmp_path, {"a": 5})
    refused(ValueError, message, data.load, tmp_path, **kwargs)


def test_too_few_images_to_hold_out(tmp_path):
    _folder(tmp_path, {"a": 1, "b": 2})
    message = (
        f"{tmp_path} has too few images to hold out 20% of a class for testing: add "
        "images, or give it train/ and test/ folders."
    )
    refused(ValueError, message, data.load, tmp_path)


# --- the shared CIFAR-10 folder, when this checkout sits beside it ---------


@pytest.mark.skipif(
    not os.path.isdir(CIFAR_DIR), reason="shared CIFAR-10 folder absent"
)
def test_real_cifar10_folder():
    start = time.perf_counter()
    ds = data.load(CIFAR_DIR)
    seconds = time.perf_counter() - start
    assert (ds.num_train, ds.num_test) == (46_000, 9_000)
    assert ds.class_names == tuple(
        "airplane automobile bird cat deer dog frog horse ship truck".split()
    )
    assert ds.input_shape == (32, 32, 3) and ds.value_range == 255.0
    assert ds.decoded_bytes("train") == 46_000 * 32 * 32 * 3  # cached as uint8
    x, y = ds.sample(200, seed=0)
    assert x.shape == (200, 32, 32, 3) and len(set(y.tolist())) == 10
    assert seconds < 30, f"load() took {seconds:.1f} s"
