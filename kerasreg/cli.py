"""The `kerasreg` command. It parses arguments and calls library functions.

Each subcommand is a pair: `_add_NAME(subparsers)` declares its arguments and
`_run_NAME(args)` calls the library. No logic lives here that a Python user
could not call directly. Errors a user can fix (bad arguments, unknown data
or model, unwritable output) print one line on stderr and exit with 1.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["main"]


class _UsageError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _common_data_args(parser, model_default="resnet"):
    parser.add_argument(
        "--data",
        default="digits",
        help="digits (bundled), mnist, cifar10, or a path to an .npz file "
        "(default: digits)",
    )
    parser.add_argument(
        "--model",
        default=model_default,
        help=f"reference model name (default: {model_default})",
    )
    parser.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--out", required=True, help="output directory")


# --- train ------------------------------------------------------------------


def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a reference model and save model, history, metrics, curves",
        description="Train a reference model with a progress bar. Writes "
        "model.keras, history.json, metrics.json and curves.png under --out.",
    )
    _common_data_args(parser)
    return parser


def _run_train(args):
    from kerasreg import training

    _check_model_name(args.model)
    result = training.train(
        args.model,
        args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        out=args.out,
    )
    _print_metrics(result)
    print(f"Saved model.keras, history.json, metrics.json, curves.png to {args.out}")


# --- helpers ----------------------------------------------------------------


def _check_model_name(name):
    from kerasreg import models

    if name not in models.MODELS:
        raise _UsageError(
            f"unknown model {name!r}; choose one of {', '.join(models.MODELS)}"
        )


def _print_metrics(metrics):
    from kerasreg import report

    rows = [{"metric": k, "value": v} for k, v in dict(metrics).items()]
    report.print_table(rows)


_COMMANDS = {
    "train": (_add_train, _run_train),
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
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
