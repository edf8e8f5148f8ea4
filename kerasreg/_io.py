"""File writing: a target path appears only once its content is whole.

One place for JSON, CSV, `.keras` models and figures, all atomic.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; move it over `path` on success.

    On any exception the temporary file is removed and `path` is untouched.
    The temporary name keeps the suffix of `path` (Keras checks `.keras`).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, suffix = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{base}.", suffix=f".tmp{suffix}", dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path, data):
    """Write `data` as indented JSON, atomically. NumPy values are converted."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(_jsonable(data), f, indent=2)
        f.write("\n")


def save_model(model, path):
    """Save a `keras.Model` to a `.keras` file, atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def write_csv(path, rows, columns=None):
    """Write a list of dicts as CSV (fields quoted where needed), atomically.

    Args:
        path: the `.csv` file.
        rows: dicts; missing keys are written as empty fields.
        columns: column order. Defaults to the keys of the first row, then
            any new keys of later rows in the order met.
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(_jsonable(dict(row)))


def pyplot():
    """`matplotlib.pyplot` on the non-interactive Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=110):
    """Save a matplotlib figure as PNG, atomically, then close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)


def figure_png(fig, dpi=100):
    """The PNG bytes of a matplotlib figure (for embedding); closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(fig)
    return buffer.getvalue()


def check_writable(out):
    """Create the directory `out` if needed; raise `OSError` if it is not writable."""
    out = os.fspath(out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"Cannot create the output directory out={out!r}: {error.strerror}"
        ) from None
    if not os.access(out, os.W_OK):
        raise OSError(f"The output directory is not writable: out={out!r}")


@contextlib.contextmanager
def quiet_native_stderr():
    """Send what C++ code writes to file descriptor 2 to /dev/null, meanwhile.

    TensorFlow's start-up notices (CUDA, CPU features), the TFLite
    converter's "fully_quantize: 0, inference_type: 6 ..." lines and the
    interpreter's "Created TensorFlow Lite XNNPACK delegate" bypass Python's
    logging. Python exceptions still propagate. Set the environment
    variable `KERASREG_VERBOSE=1` (the CLI's `--verbose`) to see it all.
    """
    if os.environ.get("KERASREG_VERBOSE"):
        yield
        return
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
