"""kerasreg's slimming side by side with Torch-Pruning, in the same run.

The same `resnet20`, CIFAR subset, epochs, optimizer (SGD with momentum,
the model's recipe) and target MACs speed-ups on both sides:

* kerasreg: `NetworkSlimming(target=1 - 1/speedup, target_unit="macs")`
  for `--epochs`, `shrink`, then `--finetune-epochs` of fine-tuning at
  `--finetune-lr` of the rate (the `resnet` part of
  `bench_slimming_cifar.py`, whose cached runs it shares);
* Torch-Pruning, in a subprocess with its own interpreter
  (`benchmarks/torch_pruning_side.py`): its `BNScalePruner` (slimming, the
  L1 on every BN scale during training, `reg` = `--reg`) and its group
  magnitude pruner on a plainly trained model, each pruned progressively
  to the speed-up and fine-tuned for the same epochs.

Each side is compared with its own unpruned model trained for the same
total epochs. Latency is each side's exported model at batch 1 and 64:
TFLite float32 for kerasreg, frozen TorchScript for Torch-Pruning, on the
same threads. Prints JSON; the Torch-Pruning result is cached under
`runs/torch_pruning/`.

    python benchmarks/bench_torch_pruning.py --torch-python /work/torch_venv/bin/python

`--torch-python` (or `KERASREG_TORCH_PYTHON`) names an interpreter with
`torch` and `torch-pruning` (`pip install torch==2.13.0 torch-pruning==1.6.1`);
torch never enters kerasreg's own requirements.

Target: kerasreg at least as accurate as both Torch-Pruning methods at
every matched speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_slimming_cifar as slim  # noqa: E402
import cifar  # noqa: E402
import numpy as np  # noqa: E402

from kerasreg import metrics  # noqa: E402
from kerasreg.models.recipes import recipe_for  # noqa: E402

SIDE = Path(__file__).resolve().parent / "torch_pruning_side.py"
CACHE = cifar.RUNS / "torch_pruning"


def run_torch(args):
    """Torch-Pruning's three runs in a subprocess, once; cached."""
    recipe = recipe_for("resnet20")
    config = dict(
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        learning_rate=recipe.learning_rate,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        batch_size=recipe.batch_size,
        finetune_lr=args.finetune_lr,
        seed=args.seed,
        reg=args.reg,
        iterative_steps=400,
        speedups=args.speedups,
        threads=args.threads,
    )
    key = "_".join(f"{k}{v}" for k, v in sorted(config.items()) if k != "threads")
    cached = CACHE / f"n{args.train_subset}_{key.replace(' ', '')}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    x, y, x_test, y_test, _ = cifar.load_arrays(args)
    CACHE.mkdir(parents=True, exist_ok=True)
    arrays = CACHE / f"data_n{args.train_subset}_s{args.seed}.npz"
    to_uint8 = lambda images: np.round(images * 255).astype(np.uint8)  # noqa: E731
    np.savez(
        arrays,
        x_train=to_uint8(x),
        y_train=y.astype(np.int64),
        x_test=to_uint8(x_test),
        y_test=y_test.astype(np.int64),
    )
    config["data"] = str(arrays)
    done = subprocess.run(
        [args.torch_python, str(SIDE), json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)),
    )
    if done.returncode:
        raise RuntimeError(f"the Torch-Pruning side failed (exit {done.returncode})")
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT")][-1]
    result = json.loads(line[len("RESULT") :])
    cached.write_text(json.dumps(result, indent=2))
    return result


def run_kerasreg(args, speedup):
    """kerasreg's slimmed resnet20 at `speedup`, with its TFLite latencies."""
    reference = slim.plain_reference("resnet20", args, "sgd")
    full, small, _, after = slim.slimmed("resnet20", args, 1 - 1 / speedup, "macs")
    latency = {
        f"latency_ms_batch{b}": [
            1e3 * seconds for seconds in slim._tflite_latencies([full, small], b)
        ]
        for b in (1, 64)
    }
    return {
        "dense_accuracy": reference["test_accuracy"],
        "accuracy": after["test_accuracy"],
        "macs_reduction_factor": metrics.count_flops(full) / metrics.count_flops(small),
        "params_removed": 1 - metrics.count_params(small) / metrics.count_params(full),
        **{f"dense_{k}": pair[0] for k, pair in latency.items()},
        **{k: pair[1] for k, pair in latency.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=slim.EPOCHS)
    parser.add_argument("--finetune-epochs", type=int, default=slim.FINETUNE)
    parser.add_argument("--finetune-lr", type=float, default=slim.FINETUNE_LR)
    parser.add_argument(
        "--speedups",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[2.0],
        help="comma-separated MACs speed-ups (default: 2)",
    )
    parser.add_argument(
        "--reg",
        type=float,
        default=1e-5,
        help="BNScalePruner's L1 coefficient (default: Torch-Pruning's 1e-5)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--torch-python", default=os.environ.get("KERASREG_TORCH_PYTHON")
    )
    cifar.add_cifar_args(parser)
    args = parser.parse_args(argv)
    if not args.torch_python:
        parser.error("--torch-python (or KERASREG_TORCH_PYTHON) is required")
    torch_side = run_torch(args)
    dense = torch_side["dense"]
    rows = []
    for speedup in args.speedups:
        ours = run_kerasreg(args, speedup)
        theirs = {k: torch_side[f"{k}@{speedup:g}x"] for k in ("slimming", "magnitude")}
        row = {"speedup": speedup, "kerasreg": ours}
        for name, side in theirs.items():
            side["drop_points"] = 100 * (dense["accuracy"] - side["accuracy"])
            row[f"torch_pruning_{name}"] = side
        ours["drop_points"] = 100 * (ours["dense_accuracy"] - ours["accuracy"])
        row["target_met"] = all(
            ours["accuracy"] >= side["accuracy"] for side in theirs.values()
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {
        "train_images": args.train_subset,
        "epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "torch": torch_side["torch"],
        "torch_pruning": torch_side["torch_pruning"],
        "torch_dense": dense,
        "rows": rows,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
