"""Image folders as kerasreg datasets: listing, checking and decoding files.

`kerasreg.data.load(directory)` calls `load_image_folder`. Files are listed
as `keras.utils.image_dataset_from_directory` lists them: class folders
sorted alphanumerically, the files inside each (searched recursively)
sorted, with the same extensions. Before anything else every file is
checked (`_image_files.inspect_images`) and the folder as a whole: a bad
folder is refused in one line naming the file or folder, before any
training. TensorFlow decodes the images later, batch by batch.
"""

from __future__ import annotations

import os

import numpy as np

from kerasreg._dataset import BaseDataset
from kerasreg._image_files import DECODABLE, inspect_images

__all__ = [
    "COLOR_MODES",
    "IMAGE_FORMATS",
    "ImageFolderDataset",
    "load_image_folder",
]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # Keras's ALLOWLIST_FORMATS
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
HELD_OUT = ("test", "val", "validation")  # the first present is the test split
TEST_RATE = 0.2
# Both splits together: with TensorFlow itself (about 1.5 GB resident), a
# 512 MiB cache keeps a training run under 2 GB (benchmarks/bench_data.py).
DEFAULT_CACHE_BYTES = 2**29
_MODE_NAMES = {channels: mode for mode, channels in COLOR_MODES.items()}


class ImageFolderDataset(BaseDataset):
    """Images in class folders on disk, decoded batch by batch.

    Made by `kerasreg.data.load(directory)`, which checks every file first.
    Images come as `keras.utils.image_dataset_from_directory` gives them:
    float32 in [0, 255] (so `value_range` is `255.0`), resized bilinearly
    when they differ from `image_size`, decoded to `color_mode` by
    TensorFlow's decoders (or converted with `tf.image` for the few formats
    that cannot decode to it: grayscale BMP or GIF, RGBA JPEG or GIF). The
    splits share one memory budget, `cache_bytes`: the training split is
    cached (by its first full pass) if its decoded images
    (`decoded_bytes(split)`) fit, then the test split if it fits in what is
    left; a split that does not fit is decoded from disk every epoch.
    Either way batches are prefetched, and they are the same.

    Args:
        train: `(paths, labels)` of the training images.
        test: `(paths, labels)` of the held-out images.
        class_names: the class folder names, in label order.
        image_size: `(height, width)` of the images given.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        resize: whether some file differs from `image_size`. Defaults to
            `True`.
        convert: whether some file's format cannot be decoded to
            `color_mode` directly. Defaults to `False`.
        cache_bytes: the most bytes of decoded images cached, both splits
            together. Defaults to `None` (512 MiB).
        directory: the folder read, for display. Defaults to `None`.
    """

    value_range = 255.0

    def __init__(
        self,
        train,
        test,
        class_names,
        image_size,
        color_mode,
        *,
        resize=True,
        convert=False,
        cache_bytes=None,
        directory=None,
    ):
        self._files = {
            split: (np.asarray(paths, str), np.asarray(labels, np.int64))
            for split, (paths, labels) in (("train", train), ("test", test))
        }
        self.class_names = tuple(class_names)
        self.num_classes = len(self.class_names)
        self.image_size = tuple(int(d) for d in image_size)
        self.color_mode = color_mode
        self.input_shape = (*self.image_size, COLOR_MODES[color_mode])
        self.cache_bytes = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
        self.directory = directory
        self._resize, self._convert = resize, convert
        self._cached = {}

    def file_paths(self, split="train"):
        """The image files of a split, in the order `batches(split)` reads them."""
        return self._files[self._check_split(split)][0].tolist()

    def decoded_bytes(self, split):
        """Bytes a split takes decoded (uint8, or float32 when resized)."""
        itemsize = 4 if self._resize else 1
        return (
            self._count(self._check_split(split))
            * int(np.prod(self.input_shape))
            * itemsize
        )

    def _count(self, split):
        return len(self._files[split][1])

    def _cache_plan(self):
        """The splits cached in memory: train first, then test, in budget."""
        budget, plan = self.cache_bytes, set()
        for split in ("train", "test"):
            if split in self._files and self.decoded_bytes(split) <= budget:
                plan.add(split)
                budget -= self.decoded_bytes(split)
        return plan

    def _elements(self, split, shuffle, seed):
        import tensorflow as tf

        paths, labels = self._files[split]
        cache = split in self._cache_plan()
        if cache and split not in self._cached:
            self._cached[split] = self._decoded(paths, labels).cache()
        ds = (
            self._cached[split]
            if cache
            else tf.data.Dataset.from_tensor_slices((paths, labels))
        )
        if shuffle:  # the same order whether decoded images or paths are shuffled
            ds = ds.shuffle(len(labels), seed=seed)
        if cache:
            return ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
        return ds.map(self._decoder(as_float=True), num_parallel_calls=tf.data.AUTOTUNE)

    def _sample(self, n, split, seed):
        paths, labels = self._files[split]
        index = np.random.default_rng(seed).choice(
            len(labels), min(n, len(labels)), replace=False
        )
        return self._decoded(paths[index], labels[index], as_float=True)

    def _decoded(self, paths, labels, as_float=False):
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        decode = self._decoder(as_float)
        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

    def _decoder(self, as_float):
        channels = self.input_shape[-1]
        return _decoder(
            self.image_size, channels, self._resize, self._convert, as_float
        )

    def __repr__(self):
        return (
            f"ImageFolderDataset(directory={self.directory!r}, train={self.num_train}, "
            f"test={self.num_test}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def load_image_folder(
    directory, *, seed=0, image_size=None, color_mode=None, cache_bytes=None
):
    """List and check every image of a folder; see `kerasreg.data.load`."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No such image folder: {directory}")
    image_size = _check_options(image_size, color_mode, cache_bytes)
    class_names, train, test = _layout(directory, seed)
    paths = np.concatenate([train[0], test[0]])
    sizes, channels, formats = inspect_images(paths)
    size = image_size or _one_size(paths, sizes)
    mode = color_mode or _one_mode(paths, channels)
    decodable = (COLOR_MODES[mode] in DECODABLE[f] for f in set(formats.tolist()))
    return ImageFolderDataset(
        train,
        test,
        class_names,
        size,
        mode,
        resize=bool((sizes != size).any()),
        convert=not all(decodable),
        cache_bytes=cache_bytes,
        directory=directory,
    )


def _check_options(image_size, color_mode, cache_bytes):
    if image_size is not None:
        valid = isinstance(image_size, (tuple, list)) and len(image_size) == 2
        if not valid or not all(isinstance(d, int) and d > 0 for d in image_size):
            raise ValueError(
                "Expected image_size=(height, width), two positive ints. "
                f"Received: image_size={image_size!r}"
            )
        image_size = tuple(image_size)
    if color_mode is not None and color_mode not in COLOR_MODES:
        raise ValueError(
            f"Expected color_mode to be one of {', '.join(map(repr, COLOR_MODES))}. "
            f"Received: color_mode={color_mode!r}"
        )
    if cache_bytes is not None and not (
        isinstance(cache_bytes, int) and cache_bytes >= 0
    ):
        raise ValueError(
            f"Expected an int cache_bytes >= 0. Received: cache_bytes={cache_bytes!r}"
        )
    return image_size


def _layout(directory, seed):
    """`(class_names, (train paths, labels), (test paths, labels))`."""
    folders = _subfolders(directory)
    held_out = next((name for name in HELD_OUT if name in folders), None)
    if "train" not in folders or held_out is None:
        names, paths, labels = _index(directory)
        return (names, *_split(paths, labels, seed, directory))
    train_dir, test_dir = (
        os.path.join(directory, name) for name in ("train", held_out)
    )
    names, *train = _index(train_dir)
    test_names, *test = _index(test_dir)
    if names != test_names:
        raise ValueError(
            f"Class folders differ between {train_dir} and {test_dir}: only in "
            f"train/: {sorted(set(names) - set(test_names))}; only in {held_out}/: "
            f"{sorted(set(test_names) - set(names))}. Give both the same class folders."
        )
    return names, tuple(train), tuple(test)


def _subfolders(folder):
    entries = sorted(os.listdir(folder))
    return [
        e
        for e in entries
        if not e.startswith(".") and os.path.isdir(os.path.join(folder, e))
    ]


def _index(folder):
    """Class names, image paths and labels of a folder of class folders."""
    names = _subfolders(folder)
    if not names:
        loose = sum(f.lower().endswith(IMAGE_FORMATS) for f in os.listdir(folder))
        found = f" (it holds {loose} images directly)" if loose else ""
        raise ValueError(
            f"No class folders in {folder}{found}: expected one folder of images "
            "per class, or train/ and test/ folders of class folders."
        )
    paths, labels = [], []
    for label, name in enumerate(names):
        files = _image_files(os.path.join(folder, name))
        if not files:
            raise ValueError(
                f"Class folder {os.path.join(folder, name)} holds no images: "
                f"expected files ending in {', '.join(IMAGE_FORMATS)}."
            )
        paths += files
        labels += [label] * len(files)
    return names, paths, labels


def _image_files(folder):
    files = []
    for root, _, names in sorted(os.walk(folder), key=lambda entry: entry[0]):
        files += [
            os.path.join(root, n)
            for n in sorted(names)
            if n.lower().endswith(IMAGE_FORMATS)
        ]
    return files


def _split(paths, labels, seed, directory):
    """Hold out `TEST_RATE` of each class, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, np.int64)
    held = np.zeros(len(labels), bool)
    for label in range(labels.max() + 1):
        members = np.flatnonzero(labels == label)
        held[
            rng.choice(members, int(TEST_RATE * len(members) + 0.5), replace=False)
        ] = True
    if not held.any():
        raise ValueError(
            f"{directory} has too few images to hold out {TEST_RATE:.0%} of a class "
            "for testing: add images, or give it train/ and test/ folders."
        )
    paths = np.asarray(paths, str)
    return (paths[~held], labels[~held]), (paths[held], labels[held])


def _one_size(paths, sizes):
    other = np.flatnonzero((sizes != sizes[0]).any(axis=1))
    if len(other):
        (h, w), (h2, w2) = sizes[0], sizes[other[0]]
        raise ValueError(
            f"Images differ in size: {paths[0]} is {h}x{w}, {paths[other[0]]} is "
            f"{h2}x{w2} (height x width); pass image_size=(height, width) to resize "
            "them all."
        )
    return tuple(int(d) for d in sizes[0])


def _one_mode(paths, channels):
    found = [c for c in COLOR_MODES.values() if (channels == c).any()]
    if len(found) > 1:
        (a, pa), (b, pb) = ((c, paths[np.argmax(channels == c)]) for c in found[:2])
        raise ValueError(
            f"Images mix color modes: {pa} is {_MODE_NAMES[a]}, {pb} is "
            f"{_MODE_NAMES[b]}; pass color_mode='rgb' (or 'grayscale', 'rgba') to "
            "convert them all."
        )
    return _MODE_NAMES[found[0]]


def _decoder(image_size, channels, resize, convert, as_float):
    """The `(path, label) -> (image, label)` map of an image folder.

    Images are uint8, or float32 when resized or `as_float`. They are
    decoded as Keras decodes them, with `channels=`, unless `convert`: then
    as the file holds them, and converted with `tf.image`.
    """
    import tensorflow as tf

    def decode(path, label):
        data = tf.io.read_file(path)
        image = tf.io.decode_image(
            data, channels=0 if convert else channels, expand_animations=False
        )
        if convert:
            branches = [lambda c=c: _convert(image, c, channels) for c in (1, 2, 3, 4)]
            image = tf.switch_case(tf.shape(image)[-1] - 1, branches)
        if resize:
            image = tf.image.resize(image, image_size)  # bilinear, as Keras
        elif as_float:
            image = tf.cast(image, tf.float32)
        return tf.ensure_shape(image, (*image_size, channels)), label

    return decode


def _convert(image, have, want):
    """`image` with `have` channels (gray, gray+alpha, RGB, RGBA) to `want`."""
    import tensorflow as tf

    if have == want:
        return image
    color = image[..., : 3 if have >= 3 else 1]
    if want == 1:
        return color if have < 3 else tf.image.rgb_to_grayscale(color)
    rgb = color if have >= 3 else tf.image.grayscale_to_rgb(color)
    if want == 3:
        return rgb
    alpha = image[..., -1:] if have in (2, 4) else tf.ones_like(image[..., :1]) * 255
    return tf.concat([rgb, alpha], axis=-1)
