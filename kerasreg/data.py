"""Datasets for kerasreg: bundled digits, MNIST / CIFAR-10 when present, `.npz` files.

Every loader returns a `Dataset` of float32 images in [0, 1] shaped
(N, H, W, C) and integer labels, so models, examples, benchmarks and the CLI
can treat all sources alike. The default source everywhere is `"digits"`,
scikit-learn's bundled 8x8 handwritten digits, which needs no network.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

__all__ = ["Dataset", "load", "validation_split", "SOURCES"]

SOURCES = ("digits", "mnist", "cifar10")
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and test arrays plus the facts a model builder needs.

    Attributes:
        x_train, y_train, x_test, y_test: float32 images (N, H, W, C) in
            [0, 1] and int64 labels (N,).
        class_names: one printable name per class.
        input_shape: `(H, W, C)`, ready for `keras.Input`.
        num_classes: number of classes.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    input_shape: tuple
    num_classes: int

    def __repr__(self):
        return (
            f"Dataset(train={len(self.x_train)}, test={len(self.x_test)}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )


def load(source="digits", *, seed=0):
    """Load a dataset as float32 (N, H, W, C) images in [0, 1].

    Args:
        source: `"digits"` (bundled with scikit-learn, no network),
            `"mnist"`, `"cifar10"` (through `keras.datasets`, which needs a
            cached copy in `~/.keras/datasets` or the network), or a path to
            an `.npz` file holding `x_train`, `y_train`, `x_test`, `y_test`.
            Defaults to `"digits"`.
        seed: seed of the stratified 80/20 split of `"digits"`. Defaults
            to `0`.

    Returns:
        A `Dataset`.

    Raises:
        ValueError: for an unknown source, missing `.npz` keys, mismatched
            lengths, NaN inputs or labels outside `[0, num_classes)`.
        FileNotFoundError: when MNIST or CIFAR-10 are neither cached nor
            downloadable; the message says where to put the files.

    Example:

    >>> data = load("digits")
    >>> data.x_train.shape[1:], data.num_classes
    ((8, 8, 1), 10)
    """
    source = os.fspath(source)
    if source == "digits":
        return _load_digits(seed)
    if source in ("mnist", "cifar10"):
        return _load_keras_dataset(source)
    if source.endswith(".npz") or os.path.isfile(source):
        return _load_npz(source)
    raise ValueError(
        f"Unknown data source: source={source!r}. Expected one of "
        f"{', '.join(SOURCES)} or a path to an .npz file."
    )


def validation_split(x, y, rate=0.2, seed=0):
    """Shuffle, then hold out the first `rate` of the samples for validation.

    This is seed 001's procedure: hyperparameters are scored on data split
    off the training set, never on the test set.

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
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in _NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} is missing the keys {missing}. An .npz source needs "
                f"{', '.join(_NPZ_KEYS)}; found {sorted(archive.files)}."
            )
        arrays = [archive[key] for key in _NPZ_KEYS]
    return _finish(*arrays, class_names=None)


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
