"""Hyperparameter search on keras-tuner: coarse-to-fine, Pareto fronts, `tune`.

The notes' procedure: sample each hyperparameter at random on a log scale
(lr = 10^U(-6, -2), weight decay = 10^U(-8, -4)), train each sample a few
epochs, score it on a validation split (never on test data), narrow the
ranges to where the good values lie, repeat, then pick one value.

- `space.py`: search-space helpers adding kerasreg's knobs to a
  `keras_tuner.HyperParameters` (`learning_rate`, `weight_decay`, ...);
- `coarse_to_fine.py`: `CoarseToFine`, a keras-tuner `Tuner` (with its
  Oracle) that narrows the ranges between rounds;
- `pareto.py`: `pareto_search` and `pareto_front`, accuracy-vs-size fronts;
- `search.py`: `tune`, which splits off validation data, runs a tuner,
  retrains the best pick and writes the report;
- `report.py`: Best-k lines, the trials CSV and plots;
- `progress.py`: per-trial progress lines and the objective check.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "learning_rate": "space",
    "weight_decay": "space",
    "dropout": "space",
    "slimming_l1": "space",
    "temperature": "space",
    "distillation_lambda": "space",
    "sparsity": "space",
    "width": "space",
    "default_space": "space",
    "reference_hypermodel": "space",
    "CoarseToFine": "coarse_to_fine",
    "CoarseToFineOracle": "coarse_to_fine",
    "oracle_seed": "coarse_to_fine",
    "tune": "search",
    "TuneResult": "search",
    "TUNERS": "search",  # defined in kerasreg/_choices.py
    "pareto_search": "pareto",
    "pareto_front": "pareto",
    "ParetoSearch": "pareto",
    "ParetoResult": "pareto",
    "format_best": "report",
    "trial_rows": "report",
    "write_trials_csv": "report",
    "plot_search": "report",
    "plot_pareto": "report",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
