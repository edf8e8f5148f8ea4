"""Pruning for Keras 3: schedules, magnitude pruning, filter pruning.

- `schedules.py`: tfmot's `ConstantSparsity` and `PolynomialDecay`;
- `magnitude_pruning.py`: the `MagnitudePruning` callback;
- `sparsity.py`: `select_layers`, `kernel_sparsity`, `strip_pruning`;
- `filter_pruning.py`: `prune_filters` (Li et al. 2017) through `shrink`;
- `workflow.py`: `prune`, what `kerasreg prune` runs.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "PruningSchedule": "schedules",
    "ConstantSparsity": "schedules",
    "PolynomialDecay": "schedules",
    "MagnitudePruning": "magnitude_pruning",
    "PRUNABLE_LAYERS": "sparsity",
    "select_layers": "sparsity",
    "kernel_sparsity": "sparsity",
    "strip_pruning": "sparsity",
    "prune_filters": "filter_pruning",
    "prune": "workflow",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
