"""Network slimming: L1 on BatchNormalization γ, sign-flip freezing, removal.

- `network_slimming.py`: the `NetworkSlimming` callback and its regularizer
  and constraint;
- `channel_marking.py`: `mark_channels` (Liu et al.'s global ranking) and
  the BatchNormalization helpers;
- `target.py`: `select_for_target` / `mark_for_target` (the channels that
  make `shrink` remove a fraction of parameters or MACs) and the
  `TargetSchedule` behind `NetworkSlimming(target=...)`;
- `baselines.py`: `match_widths`, the random, L1-norm and plain-γ channel
  choices at a slimmed model's widths (the controls of "is the selection
  worth it?");
- `workflow.py`: `slim` and `sweep`, what `kerasreg slim` and `kerasreg
  sweep` run;
- `report.py`: `slimming_report` and its plots.

Reference:
    Liu et al., "Learning Efficient Convolutional Networks through Network
    Slimming", ICCV 2017, arXiv:1708.06519.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "NetworkSlimming": "network_slimming",
    "GammaL1Regularizer": "network_slimming",
    "SignFlipFreeze": "network_slimming",
    "mark_channels": "channel_marking",
    "batchnorm_layers": "channel_marking",
    "dead_channels": "channel_marking",
    "select_for_target": "target",
    "mark_for_target": "target",
    "TargetSelection": "target",
    "TargetSchedule": "target",
    "match_widths": "baselines",
    "slim": "workflow",
    "sweep": "workflow",
    "plot_sweep": "workflow",
    "check_slimmable": "workflow",
    "L1_GRID": "workflow",
    "slimming_report": "report",
    "channel_profile": "report",
    "plot_gamma_history": "report",
    "plot_channels": "report",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
