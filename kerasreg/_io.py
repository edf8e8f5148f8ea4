"""Atomic file writing: a target path appears only once its content is whole."""

from __future__ import annotations

import contextlib
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
