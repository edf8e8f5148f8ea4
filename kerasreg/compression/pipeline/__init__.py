"""The mobile compression pipeline behind `kerasreg compress`.

- `config.py`: `CompressConfig` and `load_config`;
- `stages.py`: the stages (slim, shrink, fine-tune, distil, prune, export,
  evaluate);
- `runner.py`: `compress`, which runs them and resumes;
- `report.py`: the stage table and `report.html`.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "CompressConfig": "config",
    "load_config": "config",
    "compress": "runner",
    "stage_table": "report",
    "write_report": "report",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
