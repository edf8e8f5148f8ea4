"""Knowledge distillation in the λ1/λ2/T form, on `keras.distillation`.

- `distiller.py`: `Distiller` and `distill`;
- `losses.py`: `distillation_loss`, the loss on one batch;
- `teachers.py`: teacher ensembles and softmax-ended teachers;
- `report.py`: `distillation_report`, what `kerasreg distill` runs.

Reference:
    Hinton et al., "Distilling the Knowledge in a Neural Network", 2015,
    arXiv:1503.02531.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "Distiller": "distiller",
    "distill": "distiller",
    "distillation_loss": "losses",
    "ENSEMBLE_MODES": "teachers",
    "distillation_report": "report",
    "print_report": "report",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
