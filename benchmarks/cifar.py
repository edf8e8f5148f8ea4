"""The CIFAR-10 setting every CIFAR benchmark shares.

The data is the shared JPEG copy of CIFAR-10 (`/work/shared/data/cifar10`,
46,000 training and 9,000 test images; see its `SOURCE.txt`). A benchmark
trains on a stratified subset of the training folder (`--train-subset N`:
exactly N / 10 images of each class, drawn with `--seed` from the folder's
sorted file list) and always tests on all 9,000 test images. The subset is
a folder of symlinks under `runs/cifar_subsets/<N>_<seed>/`, loaded with
`kerasreg.load`, so it gets the same file checks and in-memory caching as
any image folder.

- `add_cifar_args(parser)` adds `--data`, `--train-subset` and `--seed`;
- `load_cifar(args)` gives the dataset;
- `cached_train(name, args, **train_kwargs)` trains a model once, under
  `runs/cifar/<key>/`, and gives its metrics on every later call.

Run as a script, it times epochs of `resnet20` with its CIFAR recipe at a
few subset sizes (the measurements behind `DEFAULT_TRAIN_SUBSET`):

    python benchmarks/cifar.py --subsets 2000,5000,10000 [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import keras
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs"
SHARED = Path(__file__).resolve().parents[2] / "shared"  # /work/shared
CIFAR_DIR = SHARED / "data" / "cifar10"

# Default `--train-subset` and epochs: one resnet20 run with its recipe
# should take at most about 20 minutes on the 2-core development machine.
# Seconds per epoch, from `python benchmarks/cifar.py --subsets
# 2000,5000,10000` (the second epoch: no tracing or cache filling; each
# epoch also validates on all 9,000 test images, included as "+ test"):
#
#   images | CPU idle           | CPU shared with another engineer's tests
#   2,000  | 10.7 (4.7 + 6.1)   | 18.1 (8.1 + 10.0), load 2.4-3.5
#   5,000  | 20.0 (12.8 + 7.2)  | 28.5 (18.2 + 10.2), load 3.5-3.7
#  10,000  | 30.5 (25.0 + 5.5)  | 69.3 median over 30 epochs (53.0 + 11.6),
#          |                    | load up to 7 (bench_cifar_baseline.py)
#
# 5,000 images for 30 epochs: about 10 minutes idle and 14 at the shared
# rate above, plus about a minute of tracing, final evaluation and saving.
# One such run took 21 minutes (37.6 s/epoch, 64.8% test accuracy) with the
# CPU shared with another resnet20 training (load 3.6-4.2); 10,000 images for 30 epochs took 38 minutes
# shared, and would take about 16 idle. See docs/benchmarks.md.
DEFAULT_TRAIN_SUBSET = 5000
DEFAULT_EPOCHS = 30


def add_cifar_args(parser, *, train_subset=DEFAULT_TRAIN_SUBSET):
    """Add `--data`, `--train-subset` and `--seed` to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser`.
        train_subset: the default of `--train-subset`. Defaults to
            `DEFAULT_TRAIN_SUBSET`.

    Returns:
        The parser.
    """
    parser.add_argument(
        "--data",
        default=str(CIFAR_DIR),
        help="CIFAR-10 image folder with train/ and test/ (default: %(default)s)",
    )
    parser.add_argument(
        "--train-subset",
        type=int,
        default=train_subset,
        help="training images, stratified by class; 0 for all (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the subset and of training (default: %(default)s)",
    )
    parser.add_argument(
        "--validation",
        type=int,
        default=0,
        help="hold out this many of the training subset (stratified) and test on "
        "them instead of the test images, to choose hyperparameters "
        "(default: %(default)s, test on the 9,000 test images)",
    )
    return parser


def load_cifar(args):
    """The CIFAR-10 dataset of a benchmark: the training subset, all test images.

    Args:
        args: parsed arguments with `data`, `train_subset` and `seed` (see
            `add_cifar_args`).

    Returns:
        A `kerasreg.data.ImageFolderDataset`.

    Raises:
        ValueError: for a subset that is not a multiple of the number of
            classes, or larger than the folder holds.
    """
    import kerasreg

    return kerasreg.load(data_folder(args))


def data_folder(args):
    """The image folder `load_cifar(args)` loads (made on first use)."""
    folder = args.data
    if args.train_subset:
        folder = subset_folder(args.data, args.train_subset, args.seed)
    if getattr(args, "validation", 0):
        folder = validation_folder(folder, args.validation, args.seed)
    return folder


def load_arrays(args):
    """`load_cifar(args)` as arrays in [0, 1], for benchmarks that feed NumPy.

    Returns:
        `(x_train, y_train, x_test, y_test, dataset)`.
    """
    dataset = load_cifar(args)
    x, y = dataset.to_arrays("train")
    x_test, y_test = dataset.to_arrays("test")
    top = dataset.value_range
    return x / top, y, x_test / top, y_test, dataset


def validation_folder(folder, n, seed):
    """Make (once) a folder that tests on `n` held-out training images.

    Its `train/` holds the training images of `folder` less `n / num_classes`
    of each class (drawn with `seed`), and its `test/` holds those held-out
    images, so a hyperparameter is chosen without looking at the test set.

    Args:
        folder: a folder with `train/` of class folders.
        n: held-out images in all.
        seed: seed of the draw.

    Returns:
        The path, `<folder>_val<n>` beside `folder`, under `runs/cifar_subsets/`.
    """
    folder = Path(folder).resolve()
    out = RUNS / "cifar_subsets" / f"{folder.name}_val{n}"
    if (out / "SUBSET.json").exists():
        return out
    classes = sorted(p.name for p in (folder / "train").iterdir() if p.is_dir())
    if n % len(classes):
        raise ValueError(
            f"Expected a validation size divisible by the {len(classes)} classes. "
            f"Received: validation={n}"
        )
    rng = np.random.default_rng(seed + 1)
    staging = out.with_name(out.name + f".tmp{os.getpid()}")
    for name in classes:
        files = sorted((folder / "train" / name).iterdir())
        held = set(rng.permutation(len(files))[: n // len(classes)].tolist())
        for split in ("train", "test"):
            (staging / split / name).mkdir(parents=True)
        for i, file in enumerate(files):
            split = "test" if i in held else "train"
            (staging / split / name / file.name).symlink_to(file.resolve())
    info = {"source": str(folder), "validation": n, "seed": seed}
    (staging / "SUBSET.json").write_text(json.dumps(info) + "\n")
    staging.rename(out)
    return out


def unseen_folder(args, n):
    """Make (once) a folder that tests on `n` training images outside the subset.

    Its `train/` is the benchmark's training subset; its `test/` holds `n`
    images (`n / num_classes` per class) of the training folder that the
    subset does not contain. A model trained on the subset has never seen
    them, so fine-tuning settings can be chosen on them, not on the test set.

    Returns:
        The path, `runs/cifar_subsets/<subset>_unseen<n>/`.
    """
    subset = subset_folder(args.data, args.train_subset, args.seed)
    out = RUNS / "cifar_subsets" / f"{subset.name}_unseen{n}"
    if (out / "SUBSET.json").exists():
        return out
    data = Path(args.data).resolve()
    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    rng = np.random.default_rng(args.seed + 2)
    staging = out.with_name(out.name + f".tmp{os.getpid()}")
    for name in classes:
        taken = {p.name for p in (subset / "train" / name).iterdir()}
        files = sorted(p.name for p in (data / "train" / name).glob("*.jpg"))
        free = [f for f in files if f not in taken]
        (staging / "test" / name).mkdir(parents=True)
        for file in sorted(rng.permutation(free)[: n // len(classes)]):
            (staging / "test" / name / file).symlink_to(data / "train" / name / file)
    (staging / "train").symlink_to(
        (subset / "train").resolve(), target_is_directory=True
    )
    info = {"source": str(data), "subset": str(subset), "unseen": n}
    (staging / "SUBSET.json").write_text(json.dumps(info) + "\n")
    staging.rename(out)
    return out


def subset_folder(data, n, seed):
    """Make (once) a folder of symlinks: `n` training images, all test images.

    The images of each class are the first `n / num_classes` of a seeded
    permutation of the class folder's sorted file names, so a given `(n,
    seed)` always names the same files.

    Args:
        data: a folder with `train/` and `test/` of class folders.
        n: training images in all.
        seed: seed of the draw.

    Returns:
        The path of the subset folder, `runs/cifar_subsets/<n>_<seed>`.
    """
    data = Path(data).resolve()
    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    if n % len(classes):
        raise ValueError(
            f"Expected a train_subset divisible by the {len(classes)} classes. "
            f"Received: train_subset={n}"
        )
    folder = RUNS / "cifar_subsets" / f"{n}_{seed}"
    if (folder / "SUBSET.json").exists():
        made_from = json.loads((folder / "SUBSET.json").read_text())["source"]
        if made_from != str(data):
            raise ValueError(
                f"{folder} was made from {made_from}, not from data={str(data)!r}; "
                "delete it to make it anew from this folder."
            )
        return folder
    rng = np.random.default_rng(seed)
    staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
    for name in classes:
        files = sorted(p.name for p in (data / "train" / name).glob("*.jpg"))
        if n // len(classes) > len(files):
            raise ValueError(
                f"{data / 'train' / name} holds {len(files)} images, fewer than "
                f"train_subset / {len(classes)}. Received: train_subset={n}"
            )
        chosen = sorted(rng.permutation(files)[: n // len(classes)])
        (staging / "train" / name).mkdir(parents=True)
        for file in chosen:
            (staging / "train" / name / file).symlink_to(data / "train" / name / file)
    (staging / "test").symlink_to(data / "test", target_is_directory=True)
    info = {"source": str(data), "train_subset": n, "seed": seed}
    (staging / "SUBSET.json").write_text(json.dumps(info) + "\n")
    staging.rename(folder)  # atomic: a folder there is always complete
    return folder


def cache_key(model, args, epochs, recipe, seed):
    """The name of a trained model's folder under `runs/cifar/`."""
    model = Path(model).stem if str(model).endswith(".keras") else model
    subset = args.train_subset or "all"
    if getattr(args, "validation", 0):
        subset = f"{subset}val{args.validation}"
    return f"{model}_n{subset}_e{epochs}_{recipe_tag(recipe)}_s{seed}"


def recipe_tag(recipe):
    """A short name for a recipe in a cache key.

    `None` is `"adam"`; a `Recipe` is `"sgd"` and a model's recipe is its
    name, followed by the fields where it differs from the default
    `Recipe()`, e.g. `"sgd-batch_size64"` or `"resnet20-batch_size64"`, so
    a cached model is never reused after its recipe changes.
    """
    if recipe is None:
        return "adam"
    import dataclasses

    from kerasreg.models.recipes import Recipe, recipe_for

    name = "sgd"
    if isinstance(recipe, str):
        name, recipe = recipe, recipe_for(recipe)
    default = Recipe()
    changed = [
        f"{f.name}{getattr(recipe, f.name)}"
        for f in dataclasses.fields(recipe)
        if f.name != "epochs" and getattr(recipe, f.name) != getattr(default, f.name)
    ]
    return "-".join([name, *changed])


def cached_train(name, args, tag=None, **train_kwargs):
    """Train a model on the benchmark's CIFAR data once, then reuse it.

    Calls `kerasreg.training.train(name, load_cifar(args), seed=args.seed,
    out=runs/cifar/<key>, **train_kwargs)` unless
    `runs/cifar/<key>/metrics.json` exists, and records the seconds of each
    epoch (training and validation apart) and the data folder in
    `timing.json` beside it. The key comes from the model, the subset, the
    epochs, the recipe and the seed; a cached model trained on another
    `--data` folder is refused.

    Args:
        name: a reference model name or a `.keras` path.
        args: parsed arguments of `add_cifar_args`.
        tag: a suffix of the key for what the key does not show, such as a
            non-default `augment=`. Defaults to `None`.
        **train_kwargs: passed to `kerasreg.training.train`; `epochs` is
            required.

    Returns:
        The metrics dict of `metrics.json` plus `timing` (the contents of
        `timing.json`), `out` (the folder), `model_path` and `cached`
        (whether it was read rather than trained).
    """
    epochs = train_kwargs["epochs"]
    seed = train_kwargs.pop("seed", args.seed)
    key = cache_key(name, args, epochs, train_kwargs.get("recipe"), seed)
    key = f"{key}_{tag}" if tag else key
    out = RUNS / "cifar" / key
    cached = (out / "metrics.json").exists()
    data_dir = str(Path(args.data).resolve())
    if cached and (out / "timing.json").exists():
        made_from = json.loads((out / "timing.json").read_text()).get("data")
        if made_from not in (None, data_dir):
            raise ValueError(
                f"{out} was trained on {made_from}, not on data={data_dir!r}; "
                "delete it to train anew."
            )
    if not cached:
        from kerasreg import training

        timer = EpochTimer()
        callbacks = [timer, *train_kwargs.pop("callbacks", [])]
        data = load_cifar(args)
        start = time.perf_counter()
        training.train(
            name, data, seed=seed, out=str(out), callbacks=callbacks, **train_kwargs
        )
        timing = {**timer.summary(), "total_seconds": time.perf_counter() - start}
        timing.update(num_train=data.num_train, num_test=data.num_test, **cpu_load())
        timing["data"] = data_dir
        (out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    result = json.loads((out / "metrics.json").read_text())
    timing_file = out / "timing.json"
    result["timing"] = (
        json.loads(timing_file.read_text()) if timing_file.exists() else {}
    )
    result.update(out=str(out), model_path=str(out / "model.keras"), cached=cached)
    return result


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's training and validation seconds, and prints them.

    Args:
        quiet: record only, print nothing. Defaults to `False`.
    """

    def __init__(self, quiet=False):
        super().__init__()
        self.quiet = quiet
        self.train, self.test = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()
        self.train.append(self._test_start - self._start)

    def on_test_end(self, logs=None):
        self.test.append(time.perf_counter() - self._test_start)

    def on_epoch_end(self, epoch, logs=None):
        if len(self.train) <= epoch:  # no validation this epoch
            self.train.append(time.perf_counter() - self._start)
            self.test.append(0.0)
        if self.quiet:
            return
        line = {"epoch": epoch + 1, "train_seconds": round(self.train[-1], 2)}
        line["test_seconds"] = round(self.test[-1], 2)
        line.update({k: round(float(v), 4) for k, v in (logs or {}).items()})
        print(json.dumps(line), flush=True)

    def summary(self):
        """Per-epoch seconds; the medians leave out epoch 1 (tracing, caching)."""
        total = [a + b for a, b in zip(self.train, self.test)]
        return {
            "train_seconds": [round(s, 2) for s in self.train],
            "test_seconds": [round(s, 2) for s in self.test],
            "seconds_per_epoch": round(float(np.median(total[1:] or total)), 2),
            "train_seconds_per_epoch": round(
                float(np.median(self.train[1:] or self.train)), 2
            ),
        }


def cpu_load():
    """The 1-minute load average and the CPU count, to say how busy the CPU was."""
    return {"load_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cifar_args(parser)
    parser.add_argument(
        "--subsets",
        default="2000,5000",
        help="comma-separated subset sizes to time (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs per size (default: 2)"
    )
    args = parser.parse_args(argv)
    from kerasreg import training

    for n in (int(s) for s in args.subsets.split(",")):
        args.train_subset = n
        data = load_cifar(args)
        timer = EpochTimer()
        before = cpu_load()
        training.train(
            "resnet20",
            data,
            epochs=args.epochs,
            recipe="resnet20",
            seed=args.seed,
            callbacks=[timer],
            verbose=0,
        )
        summary = timer.summary()
        print(
            json.dumps(
                {
                    "train_subset": n,
                    **summary,
                    "cpu_before": before,
                    "cpu_after": cpu_load(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
