"""Benchmark the regularization toolkit's three claims (issue 6).

Each claim is measured against a baseline trained in the same run, and
reported as a ratio:

- `gap_ratio_weight_decay`, `gap_ratio_dropout`: train-test accuracy gap on
  a 300-sample digits subset with weight decay / dropout, over the gap of
  the unregularized MLP (target: < 1);
- `accuracy_ratio_he_over_std001`: test accuracy of a deep ReLU MLP
  initialized with He over std 0.01, after equal epochs of SGD (target: > 1);
- `accuracy_ratio_gn_over_bn_batch4`: test accuracy of the reference resnet
  with group norm over batch norm, both trained at batch 4 (target: > 1).

The experiments are the ones in `examples/` (imported from there, so the
numbers and the plots come from the same code). Run:

    python benchmarks/bench_regularization.py [--out runs/bench_regularization]

It prints one JSON object; with `--out` the examples' plots are saved too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def _example(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(EXAMPLES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also save the plots here")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    overfitting = _example("overfitting").run(out=args.out)
    init = _example("init_comparison").run(out=args.out)["training"]
    norms = _example("bn_vs_gn").run(out=args.out)

    base_gap = overfitting["baseline"]["gap"]
    he, small = init["he"]["test_accuracy"], init["std0.01"]["test_accuracy"]
    bn, gn = norms["batch_4"]["batch"], norms["batch_4"]["group"]
    ratios = {
        "gap_ratio_weight_decay": overfitting["weight_decay"]["gap"] / base_gap,
        "gap_ratio_dropout": overfitting["dropout"]["gap"] / base_gap,
        "accuracy_ratio_he_over_std001": he / small,
        "accuracy_ratio_gn_over_bn_batch4": gn / bn,
    }
    targets = {
        "gap_ratio_weight_decay": ratios["gap_ratio_weight_decay"] < 1.0,
        "gap_ratio_dropout": ratios["gap_ratio_dropout"] < 1.0,
        "accuracy_ratio_he_over_std001": ratios["accuracy_ratio_he_over_std001"] > 1.0,
        "accuracy_ratio_gn_over_bn_batch4": (
            ratios["accuracy_ratio_gn_over_bn_batch4"] > 1.0
        ),
    }
    report = {
        "ratios": {key: round(value, 4) for key, value in ratios.items()},
        "targets_met": targets,
        "overfitting": overfitting,
        "initialization": init,
        "normalization": norms,
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
