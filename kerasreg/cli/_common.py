"""Pieces shared by the `kerasreg` subcommands (see `kerasreg/cli/__init__.py`)."""

from __future__ import annotations

import argparse


class _UsageError(Exception):
    """An error the user can fix; printed as one line, no traceback."""


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _image_size(text):
    from kerasreg._choices import parse_image_size

    try:
        return parse_image_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_image_size(parser):
    parser.add_argument(
        "--image-size",
        type=_image_size,
        default=None,
        metavar="HxW",
        help="image folders: resize every image to HEIGHTxWIDTH, e.g. 32x32 "
        "(default: the size the files share)",
    )


def _data(args):
    """`--data` as the library takes it: loaded, resized, with `--image-size`."""
    if getattr(args, "image_size", None) is None:
        return args.data
    from kerasreg import data

    return data.load(args.data, image_size=args.image_size)


def _common_data_args(parser, model_default="resnet"):
    parser.add_argument(
        "--data",
        default="digits",
        help="digits (bundled), mnist, cifar10, an .npz file, or an image folder "
        "(class folders, or train/ and test/ of class folders) (default: digits)",
    )
    _add_image_size(parser)
    parser.add_argument(
        "--model",
        default=model_default,
        help=f"a reference model name or a .keras file (default: {model_default})",
    )
    parser.add_argument("--epochs", type=int, default=10, help="(default: 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--out", required=True, help="output directory")


def _check_model_name(name, *, files=True):
    """Refuse, in one line, a model that is neither a name nor a `.keras` file."""
    import os

    from kerasreg import models

    if name in models.MODELS:
        return
    if files and (name.endswith(".keras") or os.path.sep in name):
        if not os.path.isfile(name):
            raise _UsageError(f"no such model file: {name}")
        return
    choices = ", ".join(models.MODELS)
    also = ", or the path of a .keras file" if files else ""
    raise _UsageError(f"unknown model {name!r}; choose one of {choices}{also}")


def _print_metrics(metrics):
    from kerasreg import report

    rows = [{"metric": k, "value": v} for k, v in dict(metrics).items()]
    report.print_table(rows)
