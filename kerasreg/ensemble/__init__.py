"""Ensembles of Keras models: bagging and boosting.

- `Bagging`: B members, each trained on a bootstrap resample of the data
  (or, with `bootstrap=False`, on all of it from another random
  initialization), averaged by mean probability or majority vote;
  `Bagging.to_model()` is the mean-probability ensemble as one
  `keras.Model`, for `.keras` files and TFLite.
- `AdaBoost`: multi-class AdaBoost (SAMME) of neural weak learners trained
  with `sample_weight`.
- `samme_update`, `samme_boost`, `samme_scores`: the SAMME arithmetic in
  plain NumPy (one round, the boosting loop, the weighted vote), the same
  numbers as scikit-learn's `AdaBoostClassifier`.

Names are imported on first use, so `import kerasreg` loads no TensorFlow.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "Bagging": "bagging",
    "AdaBoost": "adaboost",
    "samme_update": "adaboost",
    "samme_boost": "adaboost",
    "samme_scores": "adaboost",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
