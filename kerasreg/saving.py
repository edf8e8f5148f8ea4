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
    "kerasreg.regularizers",
    "kerasreg.compression.slimming.network_slimming",
    "kerasreg.compression.distillation.distiller",
    "kerasreg.compression.distillation.teachers",
    "kerasreg.compression.pruning.magnitude_pruning",
    "kerasreg.compression.pruning.schedules",
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

    Example:

    >>> import kerasreg
    >>> model = kerasreg.load_model("runs/digits/model.keras")  # doctest: +SKIP
    """
    import keras

    register_all()
    return keras.saving.load_model(path, **kwargs)
