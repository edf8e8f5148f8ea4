"""The dataset classes: one interface, `BaseDataset`, and its kinds.

`BaseDataset` is what every kerasreg dataset offers: the facts a model
builder needs, the range of its images, the split sizes, and `batches()`, a
batched, prefetched `tf.data.Dataset`. `Dataset` holds arrays in memory and
`PipelineDataset` wraps the user's own `tf.data.Dataset`; the third kind,
`ImageFolderDataset`, lives in `_image_folder.py`. `kerasreg.data` makes
all three and re-exports them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["BaseDataset", "Dataset", "PipelineDataset", "SPLITS"]

SPLITS = ("train", "test")
_ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


class BaseDataset:
    """The interface every kerasreg dataset shares.

    Subclasses set `class_names`, `input_shape`, `num_classes` and
    `value_range`, and implement `_count(split)`, `_elements(split, shuffle,
    seed)` (a `tf.data.Dataset` of unbatched `(float32 image, int64
    label)` pairs) and `_sample(n, split, seed)` (the same, for `n` images).

    Attributes:
        class_names: one printable name per class, in label order.
        input_shape: `(H, W, C)`, ready for `keras.Input`.
        num_classes: number of classes.
        value_range: the top of the images' range: `1.0` for images in
            [0, 1] (the array sources), `255.0` for [0, 255] (image
            folders). `input_scale` turns it into the factor a model needs.
        num_train, num_test: number of images in each split.
    """

    @property
    def num_train(self):
        return self._count("train")

    @property
    def num_test(self):
        return self._count("test")

    def batches(
        self,
        split,
        batch_size=128,
        *,
        shuffle=False,
        seed=0,
        scale=None,
        augment=None,
        repeat=False,
    ):
        """A batched, prefetched `tf.data.Dataset` of one split.

        Args:
            split: `"train"` or `"test"`.
            batch_size: images per batch; the last batch may be smaller
                unless `repeat=True`. Defaults to `128`.
            shuffle: shuffle the whole split anew every epoch (a
                `PipelineDataset` through a 10,000-image buffer). Defaults
                to `False` (the split's own order, the same every time).
            seed: shuffle seed. Defaults to `0`.
            scale: factor the images are multiplied by, e.g.
                `input_scale(model, dataset)`. Defaults to `None` (images
                as they are, in [0, `value_range`]).
            augment: callable mapped over batches of images after `scale`,
                e.g. a `keras.Sequential` of random layers. Defaults to
                `None`.
            repeat: repeat the split forever (then pass `steps_per_epoch`
                to `fit`). Defaults to `False`.

        Returns:
            A `tf.data.Dataset` of `(images, labels)` batches: float32
            `(batch, H, W, C)` and int64 `(batch,)`.

        Raises:
            ValueError: for an unknown split, a split this dataset lacks,
                or `batch_size < 1`.

        Example:

        >>> from kerasreg import data
        >>> digits = data.load("digits")
        >>> images, labels = next(iter(digits.batches("test", batch_size=4)))
        >>> tuple(images.shape), images.dtype.name, labels.dtype.name
        ((4, 8, 8, 1), 'float32', 'int64')
        """
        import tensorflow as tf

        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or batch_size < 1
        ):
            raise ValueError(
                f"Expected an int batch_size >= 1. Received: batch_size={batch_size!r}"
            )
        ds = self._elements(self._check_split(split), shuffle, seed)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size)
        if scale is not None and scale != 1:
            factor = tf.constant(scale, tf.float32)
            ds = ds.map(lambda x, y: (x * factor, y))
        if augment is not None:
            ds = ds.map(
                lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE
            )
        return ds.prefetch(tf.data.AUTOTUNE)

    def sample(self, n, split="train", *, seed=0, scale=None):
        """A few images and labels as arrays, e.g. to calibrate int8.

        Only the images drawn are read, never the whole split.

        Args:
            n: number of images; fewer when the split holds fewer.
            split: `"train"` or `"test"`. Defaults to `"train"`.
            seed: which images are drawn, at random without replacement
                (a `PipelineDataset` gives its first `n`). Defaults to `0`.
            scale: factor the images are multiplied by. Defaults to `None`.

        Returns:
            `(images, labels)`: float32 `(n, H, W, C)` and int64 `(n,)`.

        Example:

        >>> from kerasreg import data
        >>> x, y = data.load("digits").sample(200)
        >>> x.shape, y.shape
        ((200, 8, 8, 1), (200,))
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"Expected an int n >= 1. Received: n={n!r}")
        ds = self._sample(n, self._check_split(split), seed).batch(n)
        images, labels = self._concatenate(ds)
        return (images if scale is None else images * np.float32(scale)), labels

    def to_arrays(self, split="train", *, max_bytes=2**30):
        """Read a whole split into memory, when it is small enough.

        Args:
            split: `"train"` or `"test"`. Defaults to `"train"`.
            max_bytes: refuse a split whose float32 images take more bytes.
                Defaults to `2**30` (1 GiB).

        Returns:
            `(images, labels)`: float32 `(N, H, W, C)` and int64 `(N,)`.

        Raises:
            ValueError: when the images would take more than `max_bytes`.
        """
        split = self._check_split(split)
        size = self._count(split) * int(np.prod(self.input_shape)) * 4
        if size > max_bytes:
            raise ValueError(
                f"The {split} split takes {size / 2**20:.0f} MiB as float32, more "
                f"than max_bytes={max_bytes}. Stream it with batches({split!r}) "
                "or raise max_bytes."
            )
        return self._concatenate(self.batches(split, batch_size=1024))

    def _concatenate(self, batches):
        parts = list(batches.as_numpy_iterator())
        if not parts:
            return np.zeros((0, *self.input_shape), "float32"), np.zeros(0, "int64")
        return tuple(np.concatenate(part) for part in zip(*parts))

    def _check_split(self, split):
        if split not in SPLITS:
            raise ValueError(
                f"Expected split='train' or split='test'. Received: split={split!r}"
            )
        return split

    def __getattr__(self, name):
        # Reached only when normal lookup fails: `Dataset` has these fields.
        if name in _ARRAY_NAMES:
            raise AttributeError(
                f"{type(self).__name__} keeps its images out of memory, so it has "
                f"no {name}: read batches with .batches('train') or "
                ".batches('test'), or a small split whole with .to_arrays(split)."
            )
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )


@dataclasses.dataclass(frozen=True)
class Dataset(BaseDataset):
    """Train and test arrays in memory plus the facts a model builder needs.

    Attributes:
        x_train, y_train, x_test, y_test: float32 images (N, H, W, C) in
            [0, `value_range`] and int64 labels (N,).
        class_names: one printable name per class.
        input_shape: `(H, W, C)`, ready for `keras.Input`.
        num_classes: number of classes.
        value_range: the top of the images' range. Defaults to `1.0`, what
            every array source of `kerasreg.data.load` gives.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    input_shape: tuple
    num_classes: int
    value_range: float = 1.0

    def to_arrays(self, split="train", *, max_bytes=None):
        """The arrays of one split, as they are: `(images, labels)`."""
        return self._arrays(self._check_split(split))

    def _arrays(self, split):
        if split == "train":
            return np.asarray(self.x_train, "float32"), np.asarray(
                self.y_train, "int64"
            )
        return np.asarray(self.x_test, "float32"), np.asarray(self.y_test, "int64")

    def _count(self, split):
        return len(self._arrays(split)[1])

    def _elements(self, split, shuffle, seed):
        import tensorflow as tf

        x, y = self._arrays(split)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        return ds.shuffle(len(x), seed=seed) if shuffle else ds

    def _sample(self, n, split, seed):
        import tensorflow as tf

        x, y = self._arrays(split)
        index = np.random.default_rng(seed).choice(
            len(x), min(n, len(x)), replace=False
        )
        return tf.data.Dataset.from_tensor_slices((x[index], y[index]))

    def __repr__(self):
        return (
            f"Dataset(train={len(self.x_train)}, test={len(self.x_test)}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )


class PipelineDataset(BaseDataset):
    """A user's `tf.data.Dataset` of `(image, label)` pairs, as a dataset.

    Made by `kerasreg.data.load(train_ds, test=test_ds)`. The pipelines may
    be batched (images of rank 4) or not (rank 3); labels may be ints or
    one-hot. Nothing is read until a batch is asked for, except as below.

    `num_classes` comes from, in this order: `class_names`; the pipeline's
    own `class_names` attribute (which
    `keras.utils.image_dataset_from_directory` sets); the depth of one-hot
    labels; else one pass over the labels of both splits (the largest
    label plus one), which also counts the images. Otherwise `num_train`
    and `num_test` cost one pass on first use, unless the pipeline is
    unbatched and knows its length.

    `value_range` is the argument when given, else `255.0` for uint8
    images; float images need it stated, as their dtype does not tell.

    Args:
        train: the training pipeline.
        test: the held-out pipeline. Defaults to `None` (no test split;
            `num_test` is 0 and `batches("test")` raises).
        class_names: names of the classes, in label order. Defaults to
            `None` (see above).
        value_range: `255.0` for images in [0, 255], `1.0` for [0, 1].
            Defaults to `None` (see above).
    """

    def __init__(self, train, test=None, *, class_names=None, value_range=None):
        splits = {"train": _unbatched(train, "train")}
        if test is not None:
            splits["test"] = _unbatched(test, "test")
        shapes = {
            split: tuple(ds.element_spec[0].shape) for split, (ds, _) in splits.items()
        }
        if len(set(shapes.values())) > 1:
            raise ValueError(
                f"Train and test images differ in shape: {shapes['train']} and "
                f"{shapes['test']}."
            )
        self._splits = {split: ds for split, (ds, _) in splits.items()}
        self._counts = {} if test is not None else {"test": 0}
        self.input_shape = tuple(int(d) for d in shapes["train"])
        self.value_range = _value_range(train, value_range)
        names = class_names or getattr(train, "class_names", None)
        if names is None and splits["train"][1]:
            names = [str(i) for i in range(splits["train"][1])]
        if names is None:
            names = [str(i) for i in range(self._scan_labels() + 1)]
        self.class_names = tuple(str(name) for name in names)
        self.num_classes = len(self.class_names)

    def _scan_labels(self):
        """One pass over every split: counts them, returns the largest label."""
        import tensorflow as tf

        top = -1
        for split, ds in self._splits.items():
            count, largest = ds.reduce(
                (np.int64(0), np.int64(-1)),
                lambda state, xy: (state[0] + 1, tf.maximum(state[1], xy[1])),
            )
            self._counts[split], top = int(count), max(top, int(largest))
        return top

    def _count(self, split):
        if split not in self._counts:
            ds = self._splits[split]
            known = int(ds.cardinality())
            self._counts[split] = (
                known if known >= 0 else int(ds.reduce(0, lambda c, _: c + 1))
            )
        return self._counts[split]

    def _elements(self, split, shuffle, seed):
        if split not in self._splits:
            raise ValueError(
                "This dataset has no test split: pass one with "
                "kerasreg.data.load(train_ds, test=test_ds)."
            )
        ds = self._splits[split]
        return ds.shuffle(10_000, seed=seed) if shuffle else ds

    def _sample(self, n, split, seed):
        return self._elements(split, False, seed).take(n)

    def __repr__(self):
        return (
            f"PipelineDataset(input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, value_range={self.value_range})"
        )


def _unbatched(ds, split):
    """`ds` as unbatched `(float32 image, int64 label)` pairs, and the one-hot depth."""
    import tensorflow as tf

    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            f"The {split} pipeline must yield (image, label) pairs. "
            f"Received: element_spec={spec}"
        )
    if spec[0].shape.rank == 4:
        ds = ds.unbatch()
        spec = ds.element_spec
    if spec[0].shape.rank != 3 or spec[1].shape.rank not in (0, 1):
        raise ValueError(
            f"The {split} pipeline must yield (H, W, C) images with int or one-hot "
            f"labels, or batches of them. Received: element_spec={ds.element_spec}"
        )
    if not spec[0].shape.is_fully_defined():
        raise ValueError(
            f"The {split} pipeline yields images of unknown size "
            f"{tuple(spec[0].shape)}; resize them to one size first, e.g. with "
            "ds.map(lambda x, y: (tf.image.resize(x, (h, w)), y))."
        )
    one_hot = spec[1].shape.rank == 1

    def cast(x, y):
        y = tf.argmax(y, axis=-1) if one_hot else y
        return tf.cast(x, tf.float32), tf.cast(y, tf.int64)

    depth = int(spec[1].shape[0]) if one_hot and spec[1].shape[0] is not None else None
    return ds.map(cast, num_parallel_calls=tf.data.AUTOTUNE), depth


def _value_range(ds, value_range):
    if value_range is not None:
        return float(value_range)
    dtype = ds.element_spec[0].dtype.name
    if dtype == "uint8":
        return 255.0
    raise ValueError(
        f"Cannot tell the range of {dtype} images: pass value_range=255.0 for "
        "images in [0, 255] (what keras.utils.image_dataset_from_directory "
        "yields) or value_range=1.0 for [0, 1]. Received: value_range=None"
    )
