"""kerasreg: regularization and compression for Keras 3 on TensorFlow.

Submodules and their main names are imported on first use (see
`kerasreg/_lazy.py`), so that `import kerasreg` and `kerasreg --help` stay
fast and TensorFlow is loaded only when a model is touched.
"""

from kerasreg import _lazy

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "models",
    "metrics",
    "report",
    "training",
    "saving",
    "testing",
    "initializers",
    "regularizers",
    "layers",
    "normalization",
    "losses",
    "callbacks",
    "compression",
    "tuning",
    "distribute",
    "augment",
    "label_safety",
    "ensemble",
    "semi_supervised",
    "noise",
    "elastic_distortion",
    "multi_task",
)
# public name -> module that defines it
_NAMES = {
    "load": "data",
    "validation_split": "data",
    "input_scale": "data",
    "train": "training",
    "load_model": "saving",
    "initializer_for": "initializers",
    "reinitialize": "initializers",
    "activation_stats": "initializers",
    "regularize": "regularizers",
    "regularize_activity": "regularizers",
    "ParameterTying": "regularizers",
    "DropConnectDense": "layers",
    "DropConnectConv2D": "layers",
    "WeightNoise": "layers",
    "norm_layer": "normalization",
    "convert_normalization": "normalization",
    "EarlyStopping": "callbacks",
    "tune": "tuning",
    "CoarseToFine": "tuning",
    # compression, re-exported at the top level
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
    "pseudo_label": "semi_supervised",
    "multitask": "multi_task",
}

__getattr__, __dir__, _public = _lazy.attach(__name__, _NAMES, _SUBMODULES)
__all__ = ["__version__", *_public]
