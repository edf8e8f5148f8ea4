"""Magnitude pruning at high sparsity on CIFAR-10, and the sparse files it ships as.

The float model is trained once with its CIFAR recipe (cached under
`runs/cifar/`). Every pruned model and the dense control are fine-tuned
from it for the same `--finetune-epochs`, with the recipe's SGD and cosine
decay at `--finetune-rate` times its rate (a tenth by default, as `kerasreg
slim` and `compress` fine-tune; 1.0 is the full rate), the same seed and
augmentation. Pruning follows
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

The `tfmot` line: tensorflow-model-optimization 0.8 on tf_keras, in a
subprocess (`tfmot_pruning_side.py`, with `--tfmot-python`), fine-tuning
the same trained model (rebuilt layer by layer, weights copied) with the
same recipe, epochs and schedule: its dense control and
`prune_low_magnitude` at each `--sparsities`, against kerasreg's global
rows at the same sparsity.

    python benchmarks/bench_pruning_cifar.py [--model resnet20]
        [--sparsities 0.8,0.9,0.95] [--finetune-epochs 8] [--finetune-rate 0.1]

Targets: 80% within 0.5 points of the dense control, 90% within 1.5;
kerasreg at least as accurate as tfmot at every sparsity;
sparse float32 file <= 0.35x and sparse int8 <= 0.15x the dense float32
file, each within 0.1 points of the Keras model; sparsity after QAT equal
to the sparsity before, to 0.1%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cifar  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import _io, training  # noqa: E402
from kerasreg import data as data_lib  # noqa: E402
from kerasreg._choices import FINETUNE_RATE  # noqa: E402
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
DEFAULT_FINETUNE_RATE = FINETUNE_RATE  # the default of compress and prune


def finetuned(name, base_path, dataset, args, mode=None, sparsity=0.0, layers=None):
    """The base fine-tuned for `--finetune-epochs`, pruned or not; cached."""
    tag = "dense" if mode is None else f"{mode}{sparsity:g}"
    tag += "-inner" if layers is not None else ""
    out = CACHE / run_folder(Path(base_path).parent.name, args) / tag
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
        recipes.finetune_recipe(name, divisor=1 / args.finetune_rate),
        args.seed,
    )
    callbacks = []
    if mode is not None:
        end_step, frequency = schedule_steps(
            dataset, fit_kwargs["batch_size"], args.finetune_epochs
        )
        schedule = PolynomialDecay(
            0.0, sparsity, begin_step=0, end_step=end_step, frequency=frequency
        )
        callbacks.append(MagnitudePruning(schedule, mode=mode, layers=layers))
    training.fit(
        model, dataset, epochs=args.finetune_epochs, callbacks=callbacks, **fit_kwargs
    )
    model = strip_pruning(model)
    _io.save_model(model, str(path))
    return model, tag


def schedule_steps(dataset, batch_size, epochs):
    """`(end_step, frequency)`: sparsity reached at two thirds, ten updates an epoch."""
    steps = -(-dataset.num_train // batch_size)
    return max(1, 2 * steps * epochs // 3), max(1, steps // 10)


def run_folder(base, args):
    """The cache folder of one fine-tuning setting of the base model `base`."""
    folder = f"{base}_ft{args.finetune_epochs}"
    if args.finetune_rate != DEFAULT_FINETUNE_RATE:
        folder += f"_lr{args.finetune_rate:g}"
    return folder


def _history(node):
    """Names of the layers a Keras 3 `inbound_nodes` entry reads from."""
    if isinstance(node, dict):
        if "keras_history" in node.get("config", {}):
            return [node["config"]["keras_history"][0]]
        return [n for value in node.values() for n in _history(value)]
    if isinstance(node, (list, tuple)):
        return [n for value in node for n in _history(value)]
    return []


def model_archive(model, dataset, path):
    """An `.npz` of the data, `model`'s layer graph and weights, for tfmot."""
    config = model.get_config()
    layers = [
        {
            "class_name": entry["class_name"],
            "config": entry["config"],
            "inbound": [n for node in entry["inbound_nodes"] for n in _history(node)],
        }
        for entry in config["layers"]
    ]
    outputs = config["output_layers"]
    outputs = [outputs] if isinstance(outputs[0], str) else outputs
    graph = {"layers": layers, "outputs": [o[0] for o in outputs]}
    arrays = {}
    for layer in model.layers:
        for i, weight in enumerate(layer.get_weights()):
            arrays[f"w/{layer.name}/{i}"] = weight
    x, y = dataset.to_arrays("train")
    x_test, y_test = dataset.to_arrays("test")
    np.savez(
        path,
        x_train=x.astype("uint8"),
        y_train=y,
        x_test=x_test.astype("uint8"),
        y_test=y_test,
        graph=json.dumps(graph, default=list),
        **arrays,
    )


def run_tfmot(name, base_path, dataset, args):
    """tfmot 0.8 on tf_keras, same model, recipe, epochs and schedule; cached."""
    out = CACHE / run_folder(Path(base_path).parent.name, args) / "tfmot.json"
    sparsities = [float(s) for s in args.sparsities.split(",")]
    if out.exists():
        cached = json.loads(out.read_text())
        if cached["sparsities"] == sparsities:
            return cached
    recipe = recipes.finetune_recipe(name, divisor=1 / args.finetune_rate)
    end_step, frequency = schedule_steps(
        dataset, recipe.batch_size, args.finetune_epochs
    )
    config = dict(
        learning_rate=recipe.learning_rate,
        momentum=recipe.momentum,
        l2=recipe.l2,
        batch_size=recipe.batch_size,
        crop_padding=recipe.crop_padding,
        epochs=args.finetune_epochs,
        seed=args.seed,
        sparsities=sparsities,
        end_step=end_step,
        frequency=frequency,
    )
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    side = Path(__file__).resolve().parent / "tfmot_pruning_side.py"
    with tempfile.TemporaryDirectory() as tmp:
        config["data"] = os.path.join(tmp, "data.npz")
        model_archive(keras.models.load_model(base_path), dataset, config["data"])
        done = subprocess.run(
            [args.tfmot_python, str(side), json.dumps(config)],
            env=env,
            capture_output=True,
            text=True,
        )
    if done.returncode:
        raise RuntimeError(f"tfmot subprocess failed:\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][-1]
    result = {**json.loads(line[len("RESULT") :]), "sparsities": sparsities}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


def tfmot_row(name, base_path, dataset, args, rows):
    """tfmot's accuracy at each sparsity against kerasreg's global and layer rows."""
    tfmot = run_tfmot(name, base_path, dataset, args)
    ours = {r["mode"]: r["accuracy"] for r in rows}
    runs = tfmot["runs"]
    compared = {}
    for sparsity in tfmot["sparsities"]:
        theirs = runs[f"prune{sparsity:g}"]["accuracy"]
        best = ours.get(f"global{sparsity:g}")
        compared[f"{sparsity:g}"] = {
            "tfmot_accuracy": theirs,
            "tfmot_sparsity": runs[f"prune{sparsity:g}"]["sparsity"],
            "kerasreg_global_accuracy": best,
            "kerasreg_layer_accuracy": ours.get(f"layer{sparsity:g}"),
            "kerasreg_minus_tfmot_points": None
            if best is None
            else 100 * (best - theirs),
        }
    return {
        "part": "tfmot",
        "model": name,
        "tfmot_version": tfmot["tfmot_version"],
        "tfmot_rebuilt_accuracy": tfmot["rebuilt_accuracy"],
        "keras_base_accuracy": training.evaluate(
            keras.models.load_model(base_path), dataset
        ),
        "tfmot_dense_accuracy": runs["dense"]["accuracy"],
        "sparsities": compared,
        "target_met": all(
            c["kerasreg_minus_tfmot_points"] is not None
            and c["kerasreg_minus_tfmot_points"] >= 0
            for c in compared.values()
        ),
    }


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
    parser.add_argument(
        "--finetune-rate",
        type=float,
        default=DEFAULT_FINETUNE_RATE,
        help="fine-tuning rate as a fraction of the recipe's (default: 0.1)",
    )
    parser.add_argument(
        "--tfmot-python",
        default=os.environ.get("KERASREG_TFMOT_PYTHON", sys.executable),
        help="interpreter with tensorflow-model-optimization and tf-keras for "
        "the tfmot rows; '' skips them (default: $KERASREG_TFMOT_PYTHON, else "
        "this one)",
    )
    parser.add_argument(
        "--rows",
        default="all",
        choices=["all", "pruned", "global"],
        help="'pruned' runs every pruned row and tfmot, without the files; "
        "'global' only the --sparsities rows, without the layer-wise and "
        "first-and-last-dense rows, tfmot and the files (to choose settings "
        "on --validation)",
    )
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    if not 0.0 < args.finetune_rate <= 1.0:
        parser.error(f"expected 0 < --finetune-rate <= 1, got {args.finetune_rate}")
    name = args.model
    dataset = cifar.load_cifar(args)
    trained = cifar.cached_train(name, args, epochs=args.epochs, recipe=name, verbose=0)
    dense, _ = finetuned(name, trained["model_path"], dataset, args)
    control = training.evaluate(dense, dataset)
    runs = [("global", float(s), None) for s in args.sparsities.split(",")]
    if args.rows != "global":
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
    if args.rows == "global":
        return rows
    if args.tfmot_python:
        rows.append(tfmot_row(name, trained["model_path"], dataset, args, rows))
        print(json.dumps(rows[-1]), flush=True)
    if args.rows == "pruned":
        return rows
    out = CACHE / run_folder(Path(trained["out"]).name, args) / "deploy"
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
