"""Datasets for kerasreg: arrays, image folders and `tf.data` pipelines.

`load(source)` gives every source the same interface (`BaseDataset`): the
facts a model builder needs (`class_names`, `input_shape`, `num_classes`),
the range of its images (`value_range`), the split sizes (`num_train`,
`num_test`) and `batches(split)`, a batched, prefetched `tf.data.Dataset`
of `(float32 images, int64 labels)`. Workflows read data through
`batches()`, scaled by `input_scale(model, dataset)`, so arrays in memory,
folders streamed from disk and the user's own pipelines look alike to them.

- `Dataset`: arrays in memory (`x_train`, `y_train`, `x_test`, `y_test`),
  float32 in [0, 1]: `"digits"` (scikit-learn's bundled 8x8 digits, the
  default everywhere, no network), `"mnist"`, `"cifar10"`, `.npz` files.
- `ImageFolderDataset`: a folder of class folders, float32 in [0, 255] like
  `keras.utils.image_dataset_from_directory`, decoded from disk.
- `PipelineDataset`: a `tf.data.Dataset` of `(image, label)` pairs.
"""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np

from kerasreg._dataset import BaseDataset, Dataset, PipelineDataset
from kerasreg._image_folder import ImageFolderDataset, load_image_folder
from kerasreg._model_input import check_input_shape, input_scale

__all__ = [
    "BaseDataset",
    "Dataset",
    "ImageFolderDataset",
    "PipelineDataset",
    "SOURCES",
    "check_input_shape",
    "input_scale",
    "load",
    "validation_split",
]

SOURCES = ("digits", "mnist", "cifar10")
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load(
    source="digits",
    *,
    seed=0,
    image_size=None,
    color_mode=None,
    cache_bytes=None,
    test=None,
    class_names=None,
    value_range=None,
):
    """Load a dataset from a name, a file, a folder or a `tf.data` pipeline.

    Array sources (`"digits"`, `"mnist"`, `"cifar10"`, `.npz` files) give a
    `Dataset` of float32 images in [0, 1]. An image folder gives an
    `ImageFolderDataset` of float32 images in [0, 255], read from disk
    batch by batch; it holds either `train/` and `test/` folders of class
    folders (`val/` or `validation/` count as the test split when there is
    no `test/`), or class folders only, split 80/20 per class by `seed`.
    Every file is checked before anything else happens (see
    `docs/data.md`). A `tf.data.Dataset` of `(image, label)` pairs gives a
    `PipelineDataset`.

    Args:
        source: `"digits"` (bundled with scikit-learn, no network),
            `"mnist"`, `"cifar10"` (through `keras.datasets`, which needs a
            cached copy in `~/.keras/datasets` or the network), the path of
            an `.npz` file holding `x_train`, `y_train`, `x_test`, `y_test`,
            the path of an image folder, or a `tf.data.Dataset`. Defaults
            to `"digits"`.
        seed: seed of the stratified 80/20 split of `"digits"` and of
            folders without `train/` and `test/`. Defaults to `0`.
        image_size: folders only: `(height, width)` to resize every image
            to (bilinear, as Keras does). Defaults to `None`: the size all
            images share.
        color_mode: folders only: `"grayscale"`, `"rgb"` or `"rgba"`, to
            convert every image to. Defaults to `None`: the files' own.
        cache_bytes: folders only: the memory budget of decoded images,
            both splits together: the training split is cached after its
            first epoch if it fits, then the test split if it fits in the
            rest; a split that does not fit is decoded from disk every
            epoch. Defaults to `None` (512 MiB).
        test: `tf.data` only: the held-out pipeline. Defaults to `None`.
        class_names: `tf.data` only: the class names, in label order.
            Defaults to `None` (see `PipelineDataset`).
        value_range: `tf.data` only: `255.0` or `1.0`, the top of the
            images' range. Defaults to `None` (see `PipelineDataset`).

    Returns:
        A `Dataset`, `ImageFolderDataset` or `PipelineDataset`; a dataset
        passed as `source` is returned as it is.

    Raises:
        ValueError: for an unknown source, an option the source does not
            take, a bad `.npz` file (missing keys, mismatched lengths, NaN
            inputs, labels outside `[0, num_classes)`) or a bad folder.
        FileNotFoundError: for a path that does not exist, or when MNIST
            or CIFAR-10 are neither cached nor downloadable; the message
            says where to put the files.

    Example:

    >>> data = load("digits")
    >>> data.x_train.shape[1:], data.num_classes, data.value_range
    ((8, 8, 1), 10, 1.0)
    """
    if isinstance(source, BaseDataset):
        return source
    folder = {"image_size": image_size, "color_mode": color_mode}
    folder["cache_bytes"] = cache_bytes
    pipeline = {"test": test, "class_names": class_names, "value_range": value_range}
    if _is_tf_dataset(source):
        _refuse(folder, "image folders", "a tf.data.Dataset")
        return PipelineDataset(
            source, test, class_names=class_names, value_range=value_range
        )
    _refuse(pipeline, "tf.data.Dataset sources", repr(source))
    path = os.path.expanduser(os.fspath(source))
    if path not in SOURCES and os.path.isdir(path):
        return load_image_folder(path, seed=seed, **folder)
    _refuse(folder, "image folders", repr(source))
    if path == "digits":
        return _load_digits(seed)
    if path in ("mnist", "cifar10"):
        return _load_keras_dataset(path)
    if path.endswith(".npz") or os.path.isfile(path):
        return _load_npz(path)
    if "/" in path or os.sep in path:
        raise FileNotFoundError(f"No such file or directory: source={path!r}")
    raise ValueError(
        f"Unknown data source: source={path!r}. Expected one of "
        f"{', '.join(SOURCES)}, the path of an .npz file or of an image folder, "
        "or a tf.data.Dataset."
    )


def _is_tf_dataset(source):
    tf = sys.modules.get("tensorflow")  # a tf.data.Dataset means TF is loaded
    return tf is not None and isinstance(source, tf.data.Dataset)


def _refuse(options, applies_to, source):
    for name, value in options.items():
        if value is not None:
            raise ValueError(
                f"{name}= applies to {applies_to} only. "
                f"Received: {name}={value!r} with source={source}"
            )


def validation_split(x, y, rate=0.2, seed=0):
    """Shuffle, then hold out the first `rate` of the samples for validation.

    Hyperparameters are scored on data split off the training set this way,
    never on the test set.

    Args:
        x: inputs, first axis is the sample axis.
        y: labels, same length as `x`.
        rate: fraction held out, in (0, 1). Defaults to `0.2`.
        seed: shuffle seed. Defaults to `0`.

    Returns:
        `(x_train, y_train), (x_val, y_val)`.

    Example:

    >>> x, y = np.zeros((10, 2)), np.arange(10)
    >>> (xt, yt), (xv, yv) = validation_split(x, y, rate=0.2)
    >>> len(xt), len(xv)
    (8, 2)
    """
    x, y = np.asarray(x), np.asarray(y)
    if not 0.0 < rate < 1.0:
        raise ValueError(f"Expected 0 < rate < 1. Received: rate={rate}")
    if len(x) != len(y):
        raise ValueError(
            f"x and y have different lengths: len(x)={len(x)}, len(y)={len(y)}"
        )
    n_val = int(len(x) * rate)
    if n_val == 0 or n_val == len(x):
        raise ValueError(
            f"rate={rate} leaves an empty split for {len(x)} samples; "
            "use more samples or another rate."
        )
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return (x[n_val:], y[n_val:]), (x[:n_val], y[:n_val])


def _load_digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = (bunch.images / 16.0).astype("float32")[..., None]
    labels = bunch.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    return _finish(x_train, y_train, x_test, y_test, [str(i) for i in range(10)])


_CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def _load_keras_dataset(name):
    import keras

    module = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # keras raises a bare Exception on URL errors
        cache = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
        expected = "mnist.npz" if name == "mnist" else "cifar-10-batches-py.tar.gz"
        raise FileNotFoundError(
            f"Could not load {name!r}: no cached copy and no network "
            f"({type(error).__name__}: {error}). Put {expected} in {cache}, or "
            f"pass the path of an .npz file with keys {', '.join(_NPZ_KEYS)} "
            "as the source."
        ) from None
    names = _CIFAR10_NAMES if name == "cifar10" else [str(i) for i in range(10)]
    return _finish(x_train, y_train, x_test, y_test, names)


def _load_npz(path):
    if not os.path.isfile(path):
        raise ValueError(f"No such .npz file: source={path!r}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # an .npz is a zip file
        raise ValueError(
            f"{path} is not an .npz archive: expected a file written by "
            f"numpy.savez holding {', '.join(_NPZ_KEYS)}."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _NPZ_KEYS if key not in archive.files]
            if missing:
                raise ValueError(
                    f"{path} is missing the keys {missing}. An .npz source needs "
                    f"{', '.join(_NPZ_KEYS)}; found {sorted(archive.files)}."
                )
            arrays = [_npz_array(archive, key, path) for key in _NPZ_KEYS]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        message = " ".join(str(error).split())
        raise ValueError(f"{path} is not a readable .npz archive: {message}") from None
    return _finish(*arrays, class_names=None)


def _npz_array(archive, key, path):
    try:
        return archive[key]
    except ValueError:  # numpy refuses object arrays; its advice is unsafe
        raise ValueError(
            f"{path}: {key} holds Python objects, not numbers; save it as a "
            "numeric array with numpy.savez."
        ) from None


def _to_images(x, name):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have shape (N, H, W) or (N, H, W, C). "
            f"Received: {name}.shape={x.shape}"
        )
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0
    x = x.astype("float32")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN values.")
    if x.size and x.max() > 1.0:
        if x.min() < 0.0 or x.max() > 255.0:
            raise ValueError(
                f"{name} has float values outside [0, 1] and [0, 255]: "
                f"min={x.min()}, max={x.max()}. Scale the images first."
            )
        x = x / 255.0
    return x


def _finish(x_train, y_train, x_test, y_test, class_names):
    x_train = _to_images(x_train, "x_train")
    x_test = _to_images(x_test, "x_test")
    y_train = np.asarray(y_train).reshape(-1).astype("int64")
    y_test = np.asarray(y_test).reshape(-1).astype("int64")
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise ValueError(
                f"x_{split} and y_{split} have different lengths: {len(x)} and {len(y)}"
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"Train and test images differ in shape: {x_train.shape[1:]} and "
            f"{x_test.shape[1:]}"
        )
    num_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    if class_names is not None:
        num_classes = len(class_names)
    for y, split in ((y_train, "y_train"), (y_test, "y_test")):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"Labels in {split} must lie in [0, {num_classes}). "
                f"Received: min={y.min()}, max={y.max()}"
            )
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=tuple(class_names),
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=num_classes,
    )
