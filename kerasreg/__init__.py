"""kerasreg: regularization and compression for Keras 3 on TensorFlow.

Submodules and their main names are imported on first use, so that
`import kerasreg` and `kerasreg --help` stay fast and TensorFlow is loaded
only when a model is touched.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "models",
    "report",
    "training",
    "saving",
    "compression",
    "distribute",
    # regularization toolkit (issue 6)
    "initializers",
    "regularizers",
    "layers",
    "losses",
    "callbacks",
    "testing",
    # hyperparameter search (issue 7)
    "tuning",
)
# public name -> module that defines it
_NAMES = {
    "load": "data",
    "validation_split": "data",
    "train": "training",
    "load_model": "saving",
    # regularization toolkit (issue 6)
    "initializer_for": "initializers",
    "reinitialize": "initializers",
    "activation_stats": "initializers",
    "regularize": "regularizers",
    "regularize_activity": "regularizers",
    "ParameterTying": "regularizers",
    "DropConnectDense": "layers",
    "DropConnectConv2D": "layers",
    "WeightNoise": "layers",
    "norm_layer": "layers",
    "convert_normalization": "layers",
    "EarlyStopping": "callbacks",
    # hyperparameter search (issue 7)
    "tune": "tuning",
    "CoarseToFine": "tuning",
    # compression (re-exported at the top level)
    "NetworkSlimming": "compression",
    "shrink": "compression",
    "slimming_report": "compression",
    "Distiller": "compression",
    "distill": "compression",
    "MagnitudePruning": "compression",
    "strip_pruning": "compression",
    "prune_filters": "compression",
    "to_tflite": "compression",
    "TFLiteModel": "compression",
    "compare_exports": "compression",
    "compress": "compression",
}

__all__ = ["__version__", *_SUBMODULES, *_NAMES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasreg.{name}")
    if name in _NAMES:
        module = importlib.import_module(f"kerasreg.{_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'kerasreg' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
