"""Quantization-aware training against post-training int8 on CIFAR-10.

For each model: train it in float with its CIFAR recipe (cached under
`runs/cifar/`), then spend the same fine-tuning budget two ways:

- float: fine-tune `--finetune-epochs` at a tenth of the recipe's learning
  rate, then convert with post-training int8 (200 calibration images),
  weights per output channel and per tensor;
- QAT: `kerasreg.compression.qat` on the same float model for the same
  epochs (SGD at a hundredth of the recipe's rate, no weight decay: the
  setting `--select` chose on unseen training images), then
  `to_tflite(..., "int8-full")` with no calibration data.

Every accuracy is measured on all 9,000 test images, the int8 ones by
running the `.tflite` file in `ai_edge_litert`. Nothing is chosen on the
test set: the budget and the rate are fixed beforehand. Prints one JSON
line per model, then a markdown table; fine-tuned models are cached under
`runs/qat/`.

    python benchmarks/bench_qat.py [--models resnet20,mobilenetv2]
        [--epochs 30] [--finetune-epochs 3] [--train-subset 5000]
    python benchmarks/bench_qat.py --calibrated runs/cifar/<run>/model.keras
    python benchmarks/bench_qat.py --models mobilenetv2 --per-tensor

Each row also gives the float32 file and the file with int4 weights
(`to_tflite(..., "int4")`, ai-edge-quantizer), size and accuracy.
`--per-tensor` also runs `qat(per_channel=False)` (one weight scale per
kernel) against per-tensor post-training int8: where one scale per kernel
costs accuracy (depthwise convolutions), QAT should win it back.

Targets: the QAT int8 file within 0.3 points of the fine-tuned float
model, never below post-training int8 (per channel), and top-1 agreement
with the Keras QAT model of at least 99.5%.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cifar  # noqa: E402
import keras  # noqa: E402

from kerasreg import _io, training  # noqa: E402
from kerasreg import data as data_lib  # noqa: E402
from kerasreg.compression import calibrate, qat, quantize_aware, to_tflite  # noqa: E402
from kerasreg.compression.export import TFLiteModel, calibration_images  # noqa: E402
from kerasreg.models import recipes  # noqa: E402

CACHE = cifar.RUNS / "qat"
MAX_DROP = 0.3  # points
MIN_AGREEMENT = 0.995


def float_finetuned(name, model_path, dataset, args, out):
    """The float model fine-tuned like QAT fine-tunes: same epochs, same rate."""
    path = out / "float_finetuned.keras"
    if path.exists():
        return keras.models.load_model(path)
    keras.utils.set_random_seed(args.seed)
    model = keras.models.load_model(model_path)
    model, fit_kwargs = training.compile_for(
        model,
        dataset,
        args.finetune_epochs,
        None,
        None,
        recipes.finetune_recipe(name),
        args.seed,
    )
    training.fit(model, dataset, epochs=args.finetune_epochs, **fit_kwargs)
    _io.save_model(model, str(path))
    return model


def int8_accuracy(model, dataset, path, per_channel):
    """Post-training int8 (full) of `model`: the file's test accuracy."""
    to_tflite(
        model,
        str(path),
        "int8-full",
        representative_data=calibration_images(model, dataset),
        per_channel=per_channel,
    )
    scale = data_lib.input_scale(model, dataset)
    return TFLiteModel(path).evaluate(dataset, scale=scale, latency_repeats=50)


def run_model(name, args):
    dataset = cifar.load_cifar(args)
    trained = cifar.cached_train(name, args, epochs=args.epochs, recipe=name, verbose=0)
    out = CACHE / f"{Path(trained['out']).name}_ft{args.finetune_epochs}"
    out.mkdir(parents=True, exist_ok=True)
    base = keras.models.load_model(trained["model_path"])
    tuned = float_finetuned(name, trained["model_path"], dataset, args, out)
    row = {
        "model": name,
        "train_images": dataset.num_train,
        "test_images": dataset.num_test,
        "float_trained": training.evaluate(base, dataset),
        "float_finetuned": training.evaluate(tuned, dataset),
    }
    for label, per_channel in (("ptq_per_channel", True), ("ptq_per_tensor", False)):
        result = int8_accuracy(tuned, dataset, out / f"{label}.tflite", per_channel)
        row[label] = result["accuracy"]
        row[f"{label}_latency_ms"] = result["latency_ms"]
    row.update(weight_files(tuned, dataset, out))
    quantized = quantization_aware(name, trained, dataset, args, out / "qat", True)
    row.update(
        qat_keras=quantized["accuracy_qat"],
        qat_int8=quantized["accuracy_int8"],
        qat_agreement=quantized["agreement"],
        qat_max_logit_steps=quantized["max_logit_steps"],
    )
    if args.per_tensor:
        tensor = quantization_aware(
            name, trained, dataset, args, out / "qat_per_tensor", False
        )
        row.update(
            qat_per_tensor_int8=tensor["accuracy_int8"],
            qat_per_tensor_agreement=tensor["agreement"],
            qat_per_tensor_minus_ptq_points=100
            * (tensor["accuracy_int8"] - row["ptq_per_tensor"]),
        )
    drop = 100 * (row["float_finetuned"] - row["qat_int8"])
    row.update(
        qat_drop_points=drop,
        qat_minus_ptq_points=100 * (row["qat_int8"] - row["ptq_per_channel"]),
        target_within_float_met=bool(drop <= MAX_DROP),
        target_not_below_ptq_met=bool(row["qat_int8"] >= row["ptq_per_channel"]),
        target_agreement_met=bool(row["qat_agreement"] >= MIN_AGREEMENT),
    )
    print(json.dumps(row), flush=True)
    return row


def weight_files(model, dataset, out):
    """float32 and int4-weight (ai-edge-quantizer) files of `model`: bytes, accuracy."""
    scale = data_lib.input_scale(model, dataset)
    row = {}
    for scheme in ("float32", "int4"):
        path = to_tflite(model, str(out / f"{scheme}.tflite"), scheme)
        result = TFLiteModel(path).evaluate(dataset, scale=scale, latency_repeats=50)
        row.update(
            {f"{scheme}_bytes": result["size_bytes"], scheme: result["accuracy"]}
        )
    return row


def quantization_aware(name, trained, dataset, args, out, per_channel):
    """`qat` of the trained float model, or its cached metrics from `out`."""
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())
    quantized = qat(
        trained["model_path"],
        dataset,
        epochs=args.finetune_epochs,
        recipe=name,
        per_channel=per_channel,
        seed=args.seed,
        out=str(out),
    )
    return {k: v for k, v in quantized.items() if k not in ("model", "history")}


def select(args):
    """Choose QAT's learning rate and weight decay on unseen training images.

    The float model trained on the subset is fine-tuned with `qat` for each
    setting and scored on `--unseen` images of the training folder outside
    the subset (`cifar.unseen_folder`), never on the test set.
    """
    import dataclasses

    import kerasreg

    name = args.models.split(",")[0]
    trained = cifar.cached_train(name, args, epochs=args.epochs, recipe=name, verbose=0)
    dataset = kerasreg.load(cifar.unseen_folder(args, args.unseen))
    base = recipes.recipe_for(name)
    rows = []
    for learning_rate in (1e-3, 1e-4):
        for weight_decay in (base.weight_decay, 0.0):
            recipe = dataclasses.replace(
                base, learning_rate=learning_rate, weight_decay=weight_decay
            )
            model = keras.models.load_model(trained["model_path"])
            keras.utils.set_random_seed(args.seed)
            quantized = calibrate(
                quantize_aware(model), calibration_images(model, dataset)
            )
            quantized, fit_kwargs = training.compile_for(
                quantized, dataset, args.finetune_epochs, None, None, recipe, args.seed
            )
            training.fit(quantized, dataset, epochs=args.finetune_epochs, **fit_kwargs)
            row = {
                "part": "select",
                "model": name,
                "learning_rate": learning_rate,
                "weight_decay": weight_decay,
                "unseen_images": dataset.num_test,
                "float_accuracy": training.evaluate(model, dataset),
                "qat_accuracy": training.evaluate(quantized, dataset),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def calibrated_agreement(args):
    """Agreement of a calibrated, not fine-tuned QAT copy of a `.keras` model.

    Quantization-aware copy of `--calibrated`, ranges set on 200 training
    images, exported to int8 with no calibration data; top-1 agreement
    with the Keras copy and the largest logit difference on all test
    images. A quick check of the simulation that trains nothing.
    """
    import numpy as np

    dataset = cifar.load_cifar(args)
    model = keras.models.load_model(args.calibrated)
    quantized = calibrate(quantize_aware(model), calibration_images(model, dataset))
    path = to_tflite(quantized, str(CACHE / "calibrated.tflite"), "int8-full")
    file = TFLiteModel(path)
    x, y = dataset.to_arrays("test")
    x = x * data_lib.input_scale(model, dataset)
    keras_logits = quantized.predict(x, batch_size=256, verbose=0)
    file_logits = file.predict(x)
    scale, _ = file.output_quantization
    row = {
        "part": "calibrated",
        "model": args.calibrated,
        "test_images": len(y),
        "agreement": float(np.mean(keras_logits.argmax(1) == file_logits.argmax(1))),
        "max_logit_steps": float(np.max(np.abs(keras_logits - file_logits)) / scale),
        "keras_accuracy": float(np.mean(keras_logits.argmax(1) == y)),
        "file_accuracy": float(np.mean(file_logits.argmax(1) == y)),
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows):
    """The markdown table of docs/benchmarks.md."""
    lines = [
        "| model | float (trained) | float (fine-tuned) | PTQ int8 per channel "
        "| PTQ int8 per tensor | QAT int8 file | QAT − float | agreement | max logit diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {100 * r['float_trained']:.2f} | "
            f"{100 * r['float_finetuned']:.2f} | {100 * r['ptq_per_channel']:.2f} | "
            f"{100 * r['ptq_per_tensor']:.2f} | {100 * r['qat_int8']:.2f} | "
            f"{-r['qat_drop_points']:+.2f} | {100 * r['qat_agreement']:.2f}% | "
            f"{r['qat_max_logit_steps']:.1f} steps |"
        )
    tensor = [r for r in rows if "qat_per_tensor_int8" in r]
    if tensor:
        lines += ["", "| model | PTQ int8 per tensor | QAT int8 per tensor | gain |"]
        lines.append("|---|---|---|---|")
        for r in tensor:
            lines.append(
                f"| {r['model']} | {100 * r['ptq_per_tensor']:.2f} | "
                f"{100 * r['qat_per_tensor_int8']:.2f} | "
                f"{r['qat_per_tensor_minus_ptq_points']:+.2f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet20,mobilenetv2")
    parser.add_argument("--epochs", type=int, default=cifar.DEFAULT_EPOCHS)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument(
        "--select",
        action="store_true",
        help="choose QAT's learning rate and weight decay on unseen training images",
    )
    parser.add_argument("--unseen", type=int, default=2000)
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="also QAT with one weight scale per tensor, against per-tensor PTQ",
    )
    parser.add_argument(
        "--calibrated",
        metavar="MODEL.keras",
        help="only the agreement of this float model's calibrated QAT copy",
    )
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    if args.select:
        return select(args)
    if args.calibrated:
        CACHE.mkdir(parents=True, exist_ok=True)
        return calibrated_agreement(args)
    rows = [run_model(name, args) for name in args.models.split(",")]
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
