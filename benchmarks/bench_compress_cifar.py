"""The whole `compress` pipeline on CIFAR-10 `resnet20`, against plain training.

Runs, in one process and one after the other:

1. **plain**: `resnet20` trained plainly for `--epochs + --finetune-epochs`
   with the settings `compress` trains with (Adam at its learning rate,
   batch 64, or `--recipe`'s SGD and augmentation; the test split scored
   after every epoch), timed;
2. **reference**: `kerasreg.compression.compress(model="resnet20",
   target=--target, ...)` on the same folder, what
   `kerasreg compress --model resnet20 --data <folder> --target 0.7` runs:
   `original` trained plainly for `--epochs`, slimming to the target for
   `--epochs`, `shrink`, `--finetune-epochs`, then float32 / int8 TFLite;
   timed end to end (export and the evaluation of every stage included);
3. **user model**: `compress(model=<the trained original.keras of 2>)`, a
   user's trained `.keras` model, slimmed from its weights for
   `--user-epochs` and fine-tuned for `--finetune-epochs`. With
   `--user-model PATH`, this step alone, from that trained model.

Targets, each from this run: the int8 file at least 8x smaller than the
float32 file of `original` and at most 1.0 point below `original`; the
wall time of 2 at most 2.5x that of 1. Prints one JSON line per run and a
summary; `compress`'s artefacts and reports stay under
`runs/compress_cifar/`.

    python benchmarks/bench_compress_cifar.py                 # default subset, Adam
    python benchmarks/bench_compress_cifar.py --recipe resnet20   # its SGD + crop/flip
    python benchmarks/bench_compress_cifar.py --recipe resnet20 --finetune-rate 1.0
    python benchmarks/bench_compress_cifar.py --train-subset 46000   # all images (GPU)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cifar  # noqa: E402

from kerasreg.compression.pipeline import CompressConfig  # noqa: E402

MIN_SIZE_RATIO = 8.0
MAX_DROP_POINTS = 1.0
MAX_TIME_RATIO = 2.5
DEFAULT_FINETUNE_RATE = CompressConfig().finetune_rate


def emit(**row):
    print(json.dumps(row), flush=True)
    return row


def train_plainly(folder, epochs, seed, recipe):
    """resnet20 trained as `compress` trains it, for `epochs`; timed."""
    import keras

    import kerasreg
    from kerasreg import models, training

    defaults = CompressConfig()
    data = kerasreg.load(folder)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = models.build("resnet20", data.input_shape, data.num_classes)
    model, settings = training.compile_for(
        model,
        data,
        epochs,
        defaults.learning_rate,
        defaults.batch_size,
        recipe or None,
        seed,
    )
    training.fit(model, data, epochs=epochs, verbose=0, **{"seed": seed, **settings})
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": training.evaluate(model, data)}


def run_compress(out, verbose, **settings):
    """`compress(out, **settings)`, timed; its summary and final row."""
    from kerasreg.compression import compress

    start = time.perf_counter()
    result = compress(out, restart=True, verbose=verbose, **settings)
    seconds = time.perf_counter() - start
    rows = {row["stage"]: row for row in result["rows"]}
    summary = result["summary"]
    return {
        "seconds": seconds,
        "original_accuracy": summary["original_accuracy"],
        "int8_accuracy": summary["final_accuracy"],
        "drop_points": -summary["accuracy_change_points"],
        "size_ratio": summary["size_ratio"],
        "int8_bytes": rows["tflite int8"]["size_bytes"],
        "original_float32_bytes": rows["tflite original float32"]["size_bytes"],
        "params_removed": 1 - rows["shrink"]["params"] / rows["original"]["params"],
        "macs_ratio": rows["shrink"]["flops"] / rows["original"]["flops"],
        "sentence": summary["sentence"],
        "out": str(out),
    }


def meets(run):
    return bool(
        run["size_ratio"] >= MIN_SIZE_RATIO and run["drop_points"] <= MAX_DROP_POINTS
    )


def compress_user_model(args, out, model, common):
    """Step 3: `compress(model=<a trained .keras file>)`; its JSON row."""
    name = (
        "user_model" if args.user_model is None else f"user_{Path(model).parent.name}"
    )
    user = run_compress(
        out / name,
        args.verbose,
        model=str(model),
        epochs=args.user_epochs,
        freeze_from=2 * args.user_epochs // 3,
        **common,
    )
    user["target_met"] = meets(user)
    return emit(run="compress user model", model=str(model), **user)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--user-epochs", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.7)
    parser.add_argument("--out", default=str(cifar.RUNS / "compress_cifar"))
    parser.add_argument(
        "--recipe",
        default="",
        help="compress --recipe for every run, plain included ('' is Adam)",
    )
    parser.add_argument(
        "--finetune-rate",
        type=float,
        default=DEFAULT_FINETUNE_RATE,
        help="with --recipe: fine-tuning rate as a fraction of the recipe's; 1.0 "
        "rewinds to the full rate (default: %(default)s)",
    )
    parser.add_argument(
        "--user-model",
        help="run step 3 alone, from this trained .keras model instead of step 2's",
    )
    parser.add_argument("--verbose", type=int, default=0)
    args = cifar.add_cifar_args(parser).parse_args(argv)
    folder = cifar.data_folder(args)
    tag = f"_{args.recipe}" if args.recipe else ""
    if args.finetune_rate != DEFAULT_FINETUNE_RATE:
        tag += f"_lr{args.finetune_rate:g}"
    out = Path(args.out) / f"n{args.train_subset}_e{args.epochs}_s{args.seed}{tag}"
    common = dict(
        data=folder,
        recipe=args.recipe,
        target=args.target,
        finetune_epochs=args.finetune_epochs,
        finetune_rate=args.finetune_rate,
        quantize=("float32", "int8"),
        seed=args.seed,
    )
    if args.user_model:
        return compress_user_model(args, out, args.user_model, common)
    plain = emit(
        run="plain",
        epochs=args.epochs + args.finetune_epochs,
        **train_plainly(
            folder, args.epochs + args.finetune_epochs, args.seed, args.recipe
        ),
    )
    reference = run_compress(
        out / "resnet20",
        args.verbose,
        model="resnet20",
        epochs=args.epochs,
        freeze_from=2 * args.epochs // 3,
        **common,
    )
    reference["time_ratio"] = reference["seconds"] / plain["seconds"]
    emit(run="compress resnet20", **reference)
    user = compress_user_model(args, out, out / "resnet20" / "original.keras", common)
    return emit(
        run="summary",
        train_images=args.train_subset,
        recipe=args.recipe or "adam",
        finetune_rate=args.finetune_rate,
        size_ratio=reference["size_ratio"],
        drop_points=reference["drop_points"],
        time_ratio=reference["time_ratio"],
        user_size_ratio=user["size_ratio"],
        user_drop_points=user["drop_points"],
        target_met=bool(
            meets(reference)
            and reference["time_ratio"] <= MAX_TIME_RATIO
            and meets(user)
        ),
    )


if __name__ == "__main__":
    main()
