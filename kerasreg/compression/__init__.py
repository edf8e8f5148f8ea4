"""Model compression: slimming, channel surgery, pruning, distillation,
quantization-aware training, export.

One subpackage per technique; every public name is also reachable from
here. Names are imported on first use (see `kerasreg/_lazy.py`).
"""

from kerasreg import _lazy

_SUBMODULES = (
    "slimming",
    "surgery",
    "pruning",
    "distillation",
    "quantization",
    "export",
    "pipeline",
)
# public name -> module that defines it
_NAMES = {
    "NetworkSlimming": "slimming",
    "GammaL1Regularizer": "slimming",
    "mark_channels": "slimming",
    "mark_for_target": "slimming",
    "select_for_target": "slimming",
    "slimming_report": "slimming",
    "slim": "slimming",
    "sweep": "slimming",
    "ChannelGraph": "surgery",
    "shrink": "surgery",
    "plan_shrink": "surgery",
    "PruningSchedule": "pruning",
    "ConstantSparsity": "pruning",
    "PolynomialDecay": "pruning",
    "MagnitudePruning": "pruning",
    "strip_pruning": "pruning",
    "kernel_sparsity": "pruning",
    "prune_filters": "pruning",
    "prune": "pruning",
    "Distiller": "distillation",
    "distillation_loss": "distillation",
    "distill": "distillation",
    "quantize_aware": "quantization",
    "calibrate": "quantization",
    "qat": "quantization",
    "to_tflite": "export",
    "TFLiteModel": "export",
    "compare_exports": "export",
    "compress": "pipeline",
    "CompressConfig": "pipeline",
    "load_config": "pipeline",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES, _SUBMODULES)
