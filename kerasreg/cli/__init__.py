"""The `kerasreg` command. It parses arguments and calls library functions.

One module per command (`train.py`, `tune.py`, `slim.py` for slim and
sweep, `distill.py`, `prune.py`, `export.py`, `compress.py`); each has an
`add_NAME(subparsers)` that declares the arguments and a `run_NAME(args)`
that calls one library function. No logic lives here that a Python user
could not call directly. Errors a user can fix (bad arguments, unknown data
or model, unwritable output) print one line on stderr and exit with 1.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["main", "build_parser"]

from kerasreg.cli import (  # noqa: E402
    augment,
    compress,
    distill,
    export,
    prune,
    slim,
    train,
    tune,
)
from kerasreg.cli._common import _UsageError  # noqa: E402

# The order of `kerasreg --help`.
_COMMANDS = {
    **compress.COMMANDS,
    **train.COMMANDS,
    **slim.COMMANDS,
    **distill.COMMANDS,
    **prune.COMMANDS,
    **export.COMMANDS,
    **tune.COMMANDS,
    **augment.COMMANDS,
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
    errors raised by the import still reach the user; `--verbose` shows
    the notices.
    """
    from kerasreg._io import quiet_native_stderr

    with quiet_native_stderr():
        import tensorflow as tf

        # Devices are set up on first use, when CUDA reports its absence.
        tf.config.list_logical_devices()
    # Retracing notices when many models are evaluated in one run are noise.
    tf.get_logger().setLevel("ERROR")


def main(argv=None):
    """Entry point of the `kerasreg` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "verbose", False):
        os.environ["KERASREG_VERBOSE"] = "1"
    _import_tensorflow_quietly()
    _, run = _COMMANDS[args.command]
    try:
        run(args)
    except KeyboardInterrupt:
        print("kerasreg: interrupted", file=sys.stderr)
        return 130
    except (_UsageError, ValueError, OSError, ImportError) as error:
        print(f"kerasreg {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0
