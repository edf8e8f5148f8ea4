"""Benchmark of kerasreg's quantized TFLite export (issue 5).

Trains a model on the data (kerasreg's `cnn` by default; `--model mlp` is
a Dense-only 512-512 network), exports it as float32, float16,
dynamic-range, int8 and int8-full TFLite files (plus Keras's in-framework
`model.quantize("int8")`), and evaluates every file with `TFLiteModel`:
size, gzip size, test accuracy, median batch-1 latency (one interpreter
thread, XNNPACK as LiteRT applies it by default). The whole comparison is
repeated `--repeats` times and the median latency of each file kept, since
the development machine is shared. Prints JSON; every target is a ratio to
float32 TFLite in this run.

    python benchmarks/bench_export.py [--data digits] [--epochs 10]
    python benchmarks/bench_export.py --data ../shared/data/mnist/mnist.npz --epochs 3
    python benchmarks/bench_export.py --data ../shared/data/mnist/mnist.npz --epochs 3 --model mlp

Targets (issue 5), int8-full against float32 TFLite:
  * size <= 0.30 x;
  * accuracy within 0.5 point;
  * batch-1 latency <= 1.0 x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from kerasreg import data as data_lib  # noqa: E402
from kerasreg import models, training  # noqa: E402
from kerasreg.compression.export import TFLiteModel, compare_exports  # noqa: E402


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def mlp(input_shape, num_classes):
    """Flatten, Dense(512)-ReLU twice, Dense logits: a weight-bound network."""
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten()(inputs)
    for i in range(2):
        x = keras.layers.Dense(512, activation="relu", name=f"fc{i + 1}")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument(
        "--model", default="cnn", help="a kerasreg.models name, or mlp (default: cnn)"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency-calls", type=int, default=500)
    args = parser.parse_args(argv)
    dataset = data_lib.load(args.data)

    keras.utils.set_random_seed(args.seed)
    if args.model == "mlp":
        model = mlp(dataset.input_shape, dataset.num_classes)
    else:
        model = models.build(args.model, dataset.input_shape, dataset.num_classes)
    training.compile_model(model, args.lr)
    training.fit(
        model,
        dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation=False,
    )
    keras_accuracy = training.evaluate_accuracy(model, dataset.x_test, dataset.y_test)

    with tempfile.TemporaryDirectory() as folder:
        rows = compare_exports(
            model,
            dataset,
            out_dir=folder,
            latency_repeats=args.latency_calls,
            verbose=False,
        )
        by_name = {row["format"]: row for row in rows}
        # Re-time every file, interleaved, and keep the median of medians.
        latencies = {name: [row["latency_ms"]] for name, row in by_name.items()}
        runners = {
            name: TFLiteModel(os.path.join(folder, f"model_{name.split()[1]}.tflite"))
            for name in by_name
            if name.startswith("tflite")
        }
        for _ in range(args.repeats - 1):
            for name, runner in runners.items():
                seconds = runner.measure_latency(
                    dataset.x_test[:1], repeats=args.latency_calls
                )
                latencies[name].append(1e3 * seconds)
    for name, values in latencies.items():
        by_name[name]["latency_ms"] = statistics.median(values)
        by_name[name]["latency_ms_runs"] = values

    float32, full = by_name["tflite float32"], by_name["tflite int8-full"]
    targets = {
        "int8_full_size_ratio": full["size_bytes"] / float32["size_bytes"],
        "int8_full_accuracy_drop_points": 100
        * (float32["accuracy"] - full["accuracy"]),
        "int8_full_latency_ratio": full["latency_ms"] / float32["latency_ms"],
    }
    targets["met_size"] = targets["int8_full_size_ratio"] <= 0.30
    targets["met_accuracy"] = targets["int8_full_accuracy_drop_points"] <= 0.5
    targets["met_latency"] = targets["int8_full_latency_ratio"] <= 1.0
    print(
        json.dumps(
            {
                "data": args.data,
                "model": args.model,
                "params": model.count_params(),
                "epochs": args.epochs,
                "test_examples": len(dataset.x_test),
                "cpu": _cpu_name(),
                "keras_float32_accuracy": keras_accuracy,
                "rows": list(by_name.values()),
                "targets": targets,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
