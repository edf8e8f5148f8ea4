"""Magnitude pruning at high sparsity on CIFAR-10, and the sparse files it ships as.

The float model is trained once with its CIFAR recipe (cached under
`runs/cifar/`). Every pruned model and the dense control are fine-tuned
from it for the same `--finetune-epochs`, with the recipe's SGD at a tenth
of its rate, the same seed and augmentation. Pruning follows
`PolynomialDecay(0 -> sparsity)` over the first two thirds of the steps
(masks recomputed ten times an epoch), as `kerasreg prune` does.

Rows:

- `dense`: the control;
- `global` at each `--sparsities`: one magnitude ranking over all kernels;
- `layer` at 0.9: every kernel pruned to the same sparsity;
- `global-inner` at 0.9: global, with the first convolution and the
  classifier kept dense.

For the 0.9 global model, the `deploy` line gives the TFLite files: dense
and sparse-encoded float32, post-training int8 dense and sparse, each with
its size against the dense float32 file and its accuracy on all 9,000
test images run in `ai_edge_litert`, plus batch-1 latency; and the
kernel sparsity after one epoch of quantization-aware training.

    python benchmarks/bench_pruning_cifar.py [--model resnet20]
        [--sparsities 0.8,0.9,0.95] [--finetune-epochs 8]

Targets: 80% within 0.5 points of the dense control, 90% within 1.5;
sparse float32 file <= 0.35x and sparse int8 <= 0.15x the dense float32
file, each within 0.1 points of the Keras model; sparsity after QAT equal
to the sparsity before, to 0.1%.
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
from kerasreg.compression import qat, to_tflite  # noqa: E402
from kerasreg.compression.export import TFLiteModel, calibration_images  # noqa: E402
from kerasreg.compression.pruning import (  # noqa: E402
    MagnitudePruning,
    PolynomialDecay,
    kernel_sparsity,
    select_layers,
    strip_pruning,
)
from kerasreg.models import recipes  # noqa: E402

CACHE = cifar.RUNS / "pruning_cifar"


def finetuned(name, base_path, dataset, args, mode=None, sparsity=0.0, layers=None):
    """The base fine-tuned for `--finetune-epochs`, pruned or not; cached."""
    tag = "dense" if mode is None else f"{mode}{sparsity:g}"
    tag += "-inner" if layers is not None else ""
    out = CACHE / f"{Path(base_path).parent.name}_ft{args.finetune_epochs}" / tag
    path = out / "model.keras"
    if path.exists():
        return keras.models.load_model(path), tag
    keras.utils.set_random_seed(args.seed)
    model = keras.models.load_model(base_path)
    model, fit_kwargs = training.compile_for(
        model,
        dataset,
        args.finetune_epochs,
        None,
        None,
        recipes.finetune_recipe(name),
        args.seed,
    )
    callbacks = []
    if mode is not None:
        steps = -(-dataset.num_train // fit_kwargs["batch_size"])
        schedule = PolynomialDecay(
            0.0,
            sparsity,
            begin_step=0,
            end_step=max(1, 2 * steps * args.finetune_epochs // 3),
            frequency=max(1, steps // 10),
        )
        callbacks.append(MagnitudePruning(schedule, mode=mode, layers=layers))
    training.fit(
        model, dataset, epochs=args.finetune_epochs, callbacks=callbacks, **fit_kwargs
    )
    model = strip_pruning(model)
    _io.save_model(model, str(path))
    return model, tag


def inner_layers(model):
    """Prunable layers less the first convolution and the classifier."""
    chosen = select_layers(model)
    return [layer.name for layer in chosen[1:-1]]


def deploy(model, dataset, out):
    """Dense and sparse TFLite files of a pruned model: sizes and accuracies."""
    scale = data_lib.input_scale(model, dataset)
    calibration = calibration_images(model, dataset)
    files = {
        "float32": {},
        "float32_sparse": {"sparse": True},
        "int8": {"quantization": "int8", "representative_data": calibration},
        "int8_sparse": {
            "quantization": "int8",
            "representative_data": calibration,
            "sparse": True,
        },
    }
    keras_accuracy = training.evaluate(model, dataset)
    row = {"keras_accuracy": keras_accuracy}
    for label, kwargs in files.items():
        path = out / f"{label}.tflite"
        to_tflite(model, str(path), **kwargs)
        result = TFLiteModel(path).evaluate(dataset, scale=scale, latency_repeats=100)
        row[f"{label}_bytes"] = result["size_bytes"]
        row[f"{label}_accuracy"] = result["accuracy"]
        row[f"{label}_latency_ms"] = result["latency_ms"]
    dense = row["float32_bytes"]
    for label in files:
        row[f"{label}_size_ratio"] = row[f"{label}_bytes"] / dense
    row["target_float32_sparse_met"] = bool(
        row["float32_sparse_size_ratio"] <= 0.35
        and abs(row["float32_sparse_accuracy"] - keras_accuracy) <= 0.001
    )
    row["target_int8_sparse_met"] = bool(
        row["int8_sparse_size_ratio"] <= 0.15
        and abs(row["int8_sparse_accuracy"] - keras_accuracy) <= 0.001
    )
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--epochs", type=int, default=cifar.DEFAULT_EPOCHS)
    parser.add_argument("--finetune-epochs", type=int, default=8)
    parser.add_argument("--sparsities", default="0.8,0.9,0.95")
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    name = args.model
    dataset = cifar.load_cifar(args)
    trained = cifar.cached_train(name, args, epochs=args.epochs, recipe=name, verbose=0)
    dense, _ = finetuned(name, trained["model_path"], dataset, args)
    control = training.evaluate(dense, dataset)
    runs = [("global", float(s), None) for s in args.sparsities.split(",")]
    runs += [("layer", 0.9, None), ("global", 0.9, "inner")]
    rows = []
    for mode, sparsity, keep in runs:
        layers = inner_layers(dense) if keep else None
        model, tag = finetuned(
            name, trained["model_path"], dataset, args, mode, sparsity, layers
        )
        accuracy = training.evaluate(model, dataset)
        row = {
            "part": "sparsity",
            "model": name,
            "mode": tag,
            "target_sparsity": sparsity,
            "sparsity": kernel_sparsity(model)["sparsity"],
            "accuracy": accuracy,
            "dense_control": control,
            "drop_points": 100 * (control - accuracy),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
        if mode == "global" and sparsity == 0.9 and not keep:
            pruned = model
    out = CACHE / f"{Path(trained['out']).name}_ft{args.finetune_epochs}" / "deploy"
    out.mkdir(parents=True, exist_ok=True)
    row = {"part": "deploy", "model": name, **deploy(pruned, dataset, out)}
    before = kernel_sparsity(pruned)["sparsity"]
    quantized = qat(pruned, dataset, epochs=1, recipe=name, seed=args.seed)["model"]
    heads = select_layers(quantized)
    row.update(
        sparsity_before_qat=before,
        sparsity_after_qat=kernel_sparsity(quantized, heads)["sparsity"],
    )
    print(json.dumps(row), flush=True)
    return rows + [row]


if __name__ == "__main__":
    main()
