"""The `kerasreg` command. It parses arguments and calls library functions.

Each subcommand is a pair: `_add_NAME(subparsers)` declares its arguments and
`_run_NAME(args)` calls the library. The compression subcommands live in
`kerasreg/_cli_compression.py`. No logic lives here that a Python user
could not call directly. Errors a user can fix (bad arguments, unknown data
or model, unwritable output) print one line on stderr and exit with 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["main"]

from kerasreg._cli_common import (  # noqa: E402
    _check_model_name,
    _common_data_args,
    _print_metrics,
    _UsageError,
)
from kerasreg._cli_compression import COMMANDS as _COMPRESSION_COMMANDS  # noqa: E402

# --- train ------------------------------------------------------------------


def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a reference model and save model, history, metrics, curves",
        description="Train a reference model with a progress bar. Writes "
        "model.keras, history.json, metrics.json and curves.png under --out.",
    )
    _common_data_args(parser)
    parser.add_argument(
        "--strategy",
        choices=("mirrored", "ps"),
        help="data-parallel training: mirrored (sync, local devices or "
        "logical CPUs) or ps (async, a local parameter-server cluster)",
    )
    parser.add_argument(
        "--replicas", type=int, help="mirrored replicas (default: 2 on a CPU)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="ps workers (default: 2)"
    )
    parser.add_argument(
        "--ps", type=int, default=1, help="parameter servers (default: 1)"
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="keras.mixed_precision dtype policy (default: float32)",
    )
    return parser


def _run_train(args):
    from kerasreg import training

    _check_model_name(args.model)
    if args.strategy is None and args.replicas is not None:
        raise _UsageError("--replicas needs --strategy mirrored")
    with contextlib.ExitStack() as stack:
        strategy = None
        if args.strategy == "mirrored":
            from kerasreg import distribute

            strategy = distribute.strategy("mirrored", replicas=args.replicas)
        elif args.strategy == "ps":
            from kerasreg import distribute

            cluster = stack.enter_context(
                distribute.LocalCluster(args.workers, args.ps)
            )
            strategy = cluster.strategy()
        result = training.train(
            args.model,
            args.data,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            out=args.out,
            strategy=strategy,
            precision=args.precision,
        )
    _print_metrics(result)
    print(f"Saved model.keras, history.json, metrics.json, curves.png to {args.out}")


# --- tune -------------------------------------------------------------------


def _add_tune(subparsers):
    parser = subparsers.add_parser(
        "tune",
        help="search lr and weight decay (seed 001), or a size knob's Pareto front",
        description="Search hyperparameters on a validation split of the "
        "training set, print one line per trial and seed 001's Best-k lines, "
        "retrain the best for longer. Writes best.txt, trials.csv, search.png, "
        "model.keras and result.json under --out. With --pareto, search a size "
        "knob and write the accuracy-vs-params front (front.txt, pareto.csv, "
        "pareto.png) instead.",
    )
    parser.add_argument("--data", default="digits", help="(default: digits)")
    parser.add_argument("--model", default="cnn", help="reference model (default: cnn)")
    parser.add_argument(
        "--tuner",
        default="coarse-to-fine",
        help="coarse-to-fine, random, bayesian or hyperband (default: coarse-to-fine)",
    )
    parser.add_argument("--trials", type=int, default=30, help="budget (default: 30)")
    parser.add_argument("--rounds", type=int, default=3, help="(default: 3)")
    parser.add_argument("--top-k", type=int, default=3, help="(default: 3)")
    parser.add_argument(
        "--margin",
        type=float,
        default=0.2,
        help="range padding fraction (default: 0.2)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="per trial (default: 3)")
    parser.add_argument(
        "--final-epochs", type=int, default=None, help="retraining (default: 3x epochs)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument(
        "--resume", action="store_true", help="resume an interrupted search in --out"
    )
    parser.add_argument(
        "--pareto",
        choices=("width", "slimming_l1"),
        help="search this size knob for the accuracy-vs-params Pareto front",
    )
    parser.add_argument("--out", required=True, help="output directory")
    return parser


def _run_tune(args):
    from kerasreg import tuning

    _check_model_name(args.model)
    if args.pareto:
        result = tuning.pareto_search(
            args.model,
            args.data,
            knob=args.pareto,
            max_trials=args.trials,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            overwrite=not args.resume,
            out=args.out,
        )
        print(f"Saved front.txt, pareto.csv, pareto.png to {args.out}")
        return
    if args.tuner not in tuning.TUNERS:
        raise _UsageError(
            f"unknown tuner {args.tuner!r}; choose one of {', '.join(tuning.TUNERS)}"
        )
    result = tuning.tune(
        args.model,
        args.data,
        tuner=args.tuner,
        max_trials=args.trials,
        rounds=args.rounds,
        top_k=args.top_k,
        margin=args.margin,
        epochs=args.epochs,
        final_epochs=args.final_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        overwrite=not args.resume,
        out=args.out,
    )
    print(result.best_lines(5))
    print(f"Retrained best: val accuracy {result.val_accuracy:.4f}")
    print(f"Saved best.txt, trials.csv, search.png, model.keras to {args.out}")


_COMMANDS = {
    "compress": _COMPRESSION_COMMANDS["compress"],
    "train": (_add_train, _run_train),
    "slim": _COMPRESSION_COMMANDS["slim"],
    "sweep": _COMPRESSION_COMMANDS["sweep"],
    "distill": _COMPRESSION_COMMANDS["distill"],
    "prune": _COMPRESSION_COMMANDS["prune"],
    "export": _COMPRESSION_COMMANDS["export"],
    "tune": (_add_tune, _run_tune),
}


def build_parser():
    """The `argparse` parser of the `kerasreg` command."""
    from kerasreg import __version__

    parser = argparse.ArgumentParser(
        prog="kerasreg",
        description="Slim, prune, distil, quantize and train Keras 3 models.",
    )
    parser.add_argument(
        "--version", action="version", version=f"kerasreg {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in _COMMANDS.values():
        add(subparsers)
    return parser


def _import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up chatter sent to /dev/null.

    TensorFlow prints CUDA and CPU-feature notices on file descriptor 2
    before its logging is set up; they are noise on a CPU machine. Python
    errors raised by the import still reach the user.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Retracing notices when many models are evaluated in one run are noise.
    tf.get_logger().setLevel("ERROR")


def main(argv=None):
    """Entry point of the `kerasreg` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _import_tensorflow_quietly()
    _, run = _COMMANDS[args.command]
    try:
        run(args)
    except KeyboardInterrupt:
        print("kerasreg: interrupted", file=sys.stderr)
        return 130
    except (_UsageError, ValueError, OSError) as error:
        print(f"kerasreg {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
