"""Multi-worker sync throughput on this machine: 1, 2 and 4 worker processes.

Each row is one `kerasreg.distribute.launch` job: N worker processes on
127.0.0.1, `MultiWorkerMirroredStrategy`, the same global batch, training
`--model` on digits with `model.fit`. It reports

- `examples_per_s`: training examples per second over the epochs after the
  first (tracing excluded), timed on the chief;
- `allreduce_ms`: one all-reduce of a tensor as large as all the model's
  gradients, timed alone (median of `--allreduce-repeats`), i.e. what each
  step pays for communication;
- `step_ms` and `allreduce_share`: a training step, and the all-reduce's
  share of it;

and `speedup` against 1 worker in the same run. On a 2-core machine a
second process adds no hardware, so expect no speedup: the table measures
what the all-reduce and the extra processes cost. Run:

    python benchmarks/bench_multiworker.py [--workers 1,2,4] [--epochs 4]

It prints one JSON line per job, then one JSON object.

With `--cifar`, it measures accuracy parity instead: `resnet20` with the
common CIFAR recipe (batch 128) on the default CIFAR subset (`benchmarks/cifar.py`), trained by 2
workers with the same global batch and seed, against the cached one-device
run of the same setting (trained first if missing); target: within 0.5
points on the 9,000 test images.

    python benchmarks/bench_multiworker.py --cifar [--train-subset 5000] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasreg.models.recipes import Recipe  # noqa: E402


def job(model_name, epochs, global_batch, repeats):
    """One worker's part: train, time the epochs, time an all-reduce alone."""
    from kerasreg import distribute

    strategy = distribute.strategy("multiworker")
    import keras
    import numpy as np
    import tensorflow as tf

    from kerasreg import data, models, training

    digits = data.load("digits")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = training.compile_model(models.build(model_name, (8, 8, 1), 10))
    distribute.synchronize_batchnorm(model)
    times = []

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(
        digits.x_train,
        digits.y_train,
        epochs=epochs,
        batch_size=global_batch,
        verbose=0,
        callbacks=[EpochTimes()],
    )
    size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    values = tf.ones([size])

    @tf.function
    def all_reduce():
        return strategy.run(
            lambda: tf.distribute.get_replica_context().all_reduce("SUM", values)
        )

    all_reduce()  # trace and connect
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), all_reduce())
        seconds.append(time.perf_counter() - start)
    steps = -(-len(digits.x_train) // global_batch)
    epoch_s = float(np.median(times[1:]))
    return {
        "examples_per_s": len(digits.x_train) / epoch_s,
        "step_ms": 1e3 * epoch_s / steps,
        "allreduce_ms": 1e3 * float(np.median(seconds)),
        "gradient_floats": size,
        "replicas": strategy.num_replicas_in_sync,
    }


# The common CIFAR recipe (batch 128), whose one-device run on the default
# subset other benchmarks cache: parity compares workers, not recipes.
PARITY_RECIPE = Recipe()


def cifar_job(args):
    """One worker of the CIFAR parity run: train, the chief saves under `out`."""
    import sys

    from kerasreg import distribute

    strategy = distribute.strategy("multiworker")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cifar

    from kerasreg import training

    out = cifar.RUNS / "cifar" / (cifar_key(args) + "_mw2")
    timer = cifar.EpochTimer(quiet=not distribute.is_chief())
    result = training.train(
        "resnet20",
        cifar.load_cifar(args),
        epochs=args.epochs,
        recipe=PARITY_RECIPE,
        seed=args.seed,
        strategy=strategy,
        callbacks=[timer],
        out=str(out) if distribute.is_chief() else None,
        verbose=0,
    )
    return {**dict(result), **timer.summary(), "out": str(out)}


def cifar_key(args):
    import cifar

    return cifar.cache_key("resnet20", args, args.epochs, PARITY_RECIPE, args.seed)


def cifar_parity(args):
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cifar

    from kerasreg import distribute

    one = cifar.cached_train(
        "resnet20", args, epochs=args.epochs, recipe=PARITY_RECIPE, verbose=0
    )
    two = distribute.launch(cifar_job, 2, args=(args,))
    gap = two["test_accuracy"] - one["test_accuracy"]
    report = {
        "model": "resnet20",
        "train_images": args.train_subset,
        "epochs": args.epochs,
        "one_device_accuracy": round(one["test_accuracy"], 4),
        "two_workers_accuracy": round(two["test_accuracy"], 4),
        "gap_points": round(100 * gap, 2),
        "two_workers_seconds_per_epoch": two["seconds_per_epoch"],
        "one_device_seconds_per_epoch": one["timing"].get("seconds_per_epoch"),
        "target": "two workers within 0.5 points of one device",
        "target_met": bool(abs(gap) <= 0.005),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=2))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="(default: %(default)s)")
    parser.add_argument("--model", default="cnn", help="(default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="(default: 4, or 30 with --cifar)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch")
    parser.add_argument("--allreduce-repeats", type=int, default=50)
    parser.add_argument("--cifar", action="store_true", help="CIFAR parity instead")
    args, rest = parser.parse_known_args(argv)
    if args.cifar:
        import sys

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import cifar

        cifar_args = cifar.add_cifar_args(argparse.ArgumentParser()).parse_args(rest)
        cifar_args.epochs = args.epochs or cifar.DEFAULT_EPOCHS
        return cifar_parity(cifar_args)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.epochs = args.epochs or 4
    from kerasreg import distribute

    rows = []
    for workers in (int(n) for n in args.workers.split(",")):
        start = time.perf_counter()
        row = distribute.launch(
            job,
            workers,
            args=(args.model, args.epochs, args.batch_size, args.allreduce_repeats),
        )
        row = {"workers": workers, **{k: round(v, 3) for k, v in row.items()}}
        row["allreduce_share"] = round(row["allreduce_ms"] / row["step_ms"], 3)
        row["job_seconds"] = round(time.perf_counter() - start, 1)
        row["load_1min"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["examples_per_s"]
    for row in rows:
        row["speedup"] = round(row["examples_per_s"] / base, 3)
    report = {
        "model": args.model,
        "data": "digits",
        "global_batch": args.batch_size,
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
