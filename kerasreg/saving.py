"""Load `.keras` files that hold kerasreg objects.

`import kerasreg` is lazy: it loads no TensorFlow until a name is used, so
kerasreg's layers, losses, regularizers and callbacks are registered with
Keras only once their modules are imported. `load_model` imports them all
first, so a deployment script needs nothing but `import kerasreg`.
"""

from __future__ import annotations

import importlib

__all__ = ["load_model", "register_all"]

_REGISTERING_MODULES = (
    "kerasreg.callbacks",
    "kerasreg.layers",
    "kerasreg.losses",
    "kerasreg.noise",
    "kerasreg.elastic_distortion",
    "kerasreg.multi_task",
    "kerasreg.regularizers",
    "kerasreg.compression.slimming.network_slimming",
    "kerasreg.compression.distillation.distiller",
    "kerasreg.compression.distillation.teachers",
    "kerasreg.compression.pruning.magnitude_pruning",
    "kerasreg.compression.pruning.schedules",
    "kerasreg.compression.quantization.layers",
)


def register_all():
    """Import every kerasreg module that registers serializable objects."""
    for name in _REGISTERING_MODULES:
        importlib.import_module(name)


def load_model(path, **kwargs):
    """`keras.saving.load_model` with every kerasreg object registered.

    Args:
        path: a `.keras` file.
        **kwargs: passed to `keras.saving.load_model`.

    Returns:
        The loaded `keras.Model`.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not a readable `.keras` model (a
            corrupt or truncated file, or another format), in one line.

    Example:

    >>> import kerasreg
    >>> model = kerasreg.load_model("runs/digits/model.keras")  # doctest: +SKIP
    """
    import os
    import zipfile

    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .keras model: it is not a Keras v3 "
            "archive (a zip file), so it is corrupt, truncated or another format."
        )
    register_all()
    try:
        return keras.saving.load_model(path, **kwargs)
    except Exception as error:  # a damaged archive fails in many ways
        reason = (
            str(error).strip().splitlines()[0][:200]
            if str(error)
            else type(error).__name__
        )
        raise ValueError(f"{path} is not a readable .keras model ({reason})") from None
