"""`compress`: the end-to-end mobile compression pipeline (`kerasreg compress`).

Stages, each optional or configurable, each writing its result atomically
under `out` and recording itself in `state.json`, so that a rerun with the
same `out` skips what is finished and an interrupted run resumes cleanly:

1. `baseline`  train the model with `NetworkSlimming`;
2. `shrink`    physically remove the dead channels;
3. `finetune`  train the shrunk model;
4. `distill`   distil the original (teacher) into the shrunk model;
5. `prune`     magnitude pruning, then `strip_pruning`;
6. `export`    float32 / float16 / int8 TFLite files of the final model (and
               a float32 file of the baseline, for comparison);
7. `evaluate`  params, FLOPs, file size, test accuracy and batch-1 latency of
               every stage, printed as a table and written to
               `metrics.json` and a self-contained `report.html`.
"""

from __future__ import annotations

import json
import os

from kerasreg import _io
from kerasreg import data as data_lib
from kerasreg.compression.pipeline.config import CompressConfig
from kerasreg.compression.pipeline.report import write_report
from kerasreg.compression.pipeline.stages import StageRunner

__all__ = ["compress"]


class _State:
    """`state.json`: the config and the finished stages, written atomically."""

    def __init__(self, out, config, restart):
        self.path = os.path.join(out, "state.json")
        self.config = config.to_dict()
        saved = None
        if os.path.exists(self.path) and not restart:
            with open(self.path) as f:
                saved = json.load(f)
            if saved["config"] != self.config:
                changed = sorted(
                    k for k in self.config if saved["config"].get(k) != self.config[k]
                )
                raise ValueError(
                    f"{out} holds a run with other settings ({', '.join(changed)}). "
                    "Use another --out, or pass --restart to start over."
                )
        self.done = saved["done"] if saved else {}

    def finish(self, stage, info):
        self.done[stage] = info
        _io.write_json(self.path, {"config": self.config, "done": self.done})


def compress(out, config=None, *, restart=False, verbose="auto", **overrides):
    """Run the compression pipeline; resumable from `out`.

    Args:
        out: output directory (created). Artefacts: `baseline.keras`,
            `shrunk.keras`, `finetuned.keras`, `distilled.keras`,
            `pruned.keras`, `baseline_float32.tflite`, `final_<q>.tflite`,
            `metrics.json`, `report.html`, `state.json`.
        config: a `CompressConfig`, a dict of its fields, or `None`.
        restart: ignore finished stages in `out` and start over. Defaults
            to `False`.
        verbose: `fit` verbosity (progress bars by default).
        **overrides: `CompressConfig` fields overriding `config`.

    Returns:
        A dict: `rows` (one per stage: params, flops, size_bytes,
        accuracy, latency_ms), `targets` (size ratio and accuracy drop of
        the int8 file against the float32 baseline), `config`.

    Example:

    >>> result = compress("runs/compress", fast=True, verbose=0)  # doctest: +SKIP
    """
    if isinstance(config, CompressConfig):
        config = config.to_dict()
    config = CompressConfig(**{**(config or {}), **overrides})
    _io.check_writable(out)
    state = _State(out, config, restart)
    dataset = data_lib.load(config.data)
    runner = StageRunner(out, config, dataset, state, verbose)
    runner.run_all()
    rows, targets = runner.evaluate()
    result = {"rows": rows, "targets": targets, "config": config.to_dict()}
    _io.write_json(os.path.join(out, "metrics.json"), result)
    write_report(
        out,
        rows,
        targets,
        histories=runner.histories(),
        gamma_history=runner.gamma_history(),
        channels=runner.channels(),
    )
    return result
