"""Distributed training on digits: 1 vs 2 mirrored replicas, async 2 workers.

Run: python benchmarks/bench_distribute.py [--epochs 10] [--model cnn]

Prints one JSON object: final test accuracy and training throughput
(examples/s) of one device, two synchronous replicas (logical CPUs, BN
synchronized) and asynchronous parameter-server training with 2 workers
(LocalCluster), the observed staleness, and a worker-kill run's step count,
with the ratios the targets of issue 8 are stated in.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasreg.distribute import setup_logical_cpus  # noqa: E402

setup_logical_cpus(2)  # before TensorFlow initialises

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasreg import data, training  # noqa: E402
from kerasreg.distribute import AsyncTrainer, LocalCluster, strategy  # noqa: E402


class _Timer(keras.callbacks.Callback):
    """Wall time of training alone (not evaluation or latency runs)."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def _sync(ds, model, epochs, strat):
    timer = _Timer()
    result = training.train(
        model, ds, epochs=epochs, strategy=strat, callbacks=[timer], verbose=0
    )
    return {
        "test_accuracy": result["test_accuracy"],
        "examples_per_s": epochs * len(ds.x_train) / timer.seconds,
    }


def _async(ds, model_name, epochs, workers, kill=False):
    from kerasreg import models

    with LocalCluster(num_workers=workers, num_ps=1) as cluster:
        strat = cluster.strategy()
        keras.utils.set_random_seed(0)
        with strat.scope():
            model = training.compile_model(
                models.build(model_name, ds.input_shape, ds.num_classes)
            )
        trainer = AsyncTrainer(model, strat)
        timer = _Timer()
        callbacks = [timer]
        if kill:

            class Kill(keras.callbacks.Callback):
                def on_train_batch_end(self, batch, logs=None):
                    if batch == 5 and ("worker", 0) in cluster.pids:
                        cluster.kill_worker(0)

            callbacks.append(Kill())
        history = trainer.fit(
            ds.x_train, ds.y_train, epochs=epochs, callbacks=callbacks, verbose=0
        )
        seconds = timer.seconds
        accuracy = trainer.evaluate(ds.x_test, ds.y_test)["accuracy"]
        return {
            "test_accuracy": accuracy,
            "examples_per_s": epochs * len(ds.x_train) / seconds,
            "staleness_mean": float(trainer.staleness.mean()),
            "staleness_max": int(trainer.staleness.max()),
            "steps_completed": trainer.steps_completed,
            "steps_expected": epochs * history.params["steps"],
            "updates": trainer.updates,
        }


def _model_parallel(repeats=20, batch=256):
    """Inference throughput: whole model vs 2 stages vs 2 stages + 4 micro-batches."""
    import numpy as np

    from kerasreg import models
    from kerasreg.distribute import split_model

    model = models.build("resnet", (8, 8, 1), 10)
    x = tf.constant(np.random.default_rng(0).random((batch, 8, 8, 1), "float32"))
    variants = {
        "one_device": model,
        "split_2": split_model(model, ["/cpu:0", "/cpu:1"]),
        "split_2_micro_4": split_model(model, ["/cpu:0", "/cpu:1"], micro_batches=4),
    }
    out = {}
    for name, variant in variants.items():
        run = tf.function(lambda t, v=variant: v(t, training=False))
        reference = run(x)  # trace
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(x).numpy()
            times.append(time.perf_counter() - start)
        out[name] = {
            "examples_per_s": batch / float(np.median(times)),
            "max_abs_diff_vs_model": float(np.abs(reference - model(x)).max()),
        }
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--skip-async", action="store_true")
    args = parser.parse_args()
    ds = data.load("digits")
    one = _sync(ds, args.model, args.epochs, tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = _sync(ds, args.model, args.epochs, strategy("mirrored", replicas=2))
    out = {
        "model": args.model,
        "epochs": args.epochs,
        "one_device": one,
        "mirrored_2": two,
        "sync_accuracy_gap_points": 100 * (one["test_accuracy"] - two["test_accuracy"]),
        "sync_throughput_ratio": two["examples_per_s"] / one["examples_per_s"],
    }
    out["model_parallel"] = _model_parallel()
    if not args.skip_async:
        a1 = _async(ds, args.model, args.epochs, 1)
        a2 = _async(ds, args.model, args.epochs, 2)
        killed = _async(ds, args.model, 2, 2, kill=True)
        out.update(
            ps_1_worker=a1,
            ps_2_workers=a2,
            async_vs_sync_gap_points=100 * (two["test_accuracy"] - a2["test_accuracy"]),
            async_throughput_ratio=a2["examples_per_s"] / a1["examples_per_s"],
            worker_kill=killed,
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
