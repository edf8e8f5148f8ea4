"""Model compression: slimming, channel surgery, pruning, distillation, export.

Names are imported on first use (see `kerasreg/__init__.py`).
"""

import importlib

# public name -> submodule of kerasreg.compression that defines it
_NAMES = {
    # slimming.py / graph.py / surgery.py (network slimming, issue 3)
    "NetworkSlimming": "slimming",
    "GammaL1Regularizer": "slimming",
    "mark_channels": "slimming",
    "ChannelGraph": "graph",
    "shrink": "surgery",
    "slimming_report": "slim_report",
    "slim": "slimming_workflow",
    "compress": "compress",
    "CompressConfig": "compress",
    "sweep": "slimming_workflow",
    # distillation.py (knowledge distillation, issue 4)
    "Distiller": "distillation",
    "distillation_loss": "distillation",
    "distill": "distillation",
    # schedules.py / pruning.py / export.py (pruning and export, issue 5)
    "PruningSchedule": "schedules",
    "ConstantSparsity": "schedules",
    "PolynomialDecay": "schedules",
    "MagnitudePruning": "pruning",
    "strip_pruning": "pruning",
    "prune_filters": "pruning_workflow",
    "kernel_sparsity": "pruning",
    "prune": "pruning_workflow",
    "to_tflite": "export",
    "TFLiteModel": "export",
    "compare_exports": "export",
}
_SUBMODULES = (
    "slimming",
    "graph",
    "surgery",
    "slim_report",
    "slimming_workflow",
    "distillation",
    "distillation_report",
    "schedules",
    "pruning",
    "pruning_workflow",
    "export",
)

__all__ = [*_SUBMODULES, *_NAMES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasreg.compression.{name}")
    if name in _NAMES:
        module = importlib.import_module(f"kerasreg.compression.{_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'kerasreg.compression' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
