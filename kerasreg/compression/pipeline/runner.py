"""`compress`: the end-to-end mobile compression pipeline (`kerasreg compress`).

Stages, each optional or configurable, each writing its result atomically
under `out` and recording itself in `state.json`, so that a rerun with the
same `out` skips what is finished and an interrupted run resumes cleanly
(see `StageRunner`): `original` (the user's model as given, or a reference
model trained plainly), `slim`, `shrink`, `finetune`, `distill`, `prune`,
`export`. Then every stage is measured (params, FLOPs, file size, test
accuracy, batch-1 latency), printed as a table and written to
`metrics.json` and a self-contained `report.html`; the summary compares the
int8 file with `original`.
"""

from __future__ import annotations

import json
import os

from kerasreg import _io
from kerasreg import data as data_lib
from kerasreg._choices import parse_image_size
from kerasreg.compression.pipeline.config import CompressConfig
from kerasreg.compression.pipeline.evaluation import stage_rows, summarize
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
            # A field added since the run was made holds its default there.
            was = {**CompressConfig().to_dict(), **saved["config"]}
            changed = sorted(k for k in self.config if was.get(k) != self.config[k])
            if changed:
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
        out: output directory (created). Artefacts: `original.keras`,
            `slimmed.keras`, `shrunk.keras`, `finetuned.keras`,
            `distilled.keras`, `pruned.keras`, `original_float32.tflite`,
            `final_<q>.tflite`, `metrics.json`, `report.html`, `state.json`.
        config: a `CompressConfig`, a dict of its fields, or `None`.
        restart: ignore finished stages in `out` and start over. Defaults
            to `False`.
        verbose: `fit` verbosity (progress bars by default).
        **overrides: `CompressConfig` fields overriding `config`.

    Returns:
        A dict: `rows` (one per stage: params, flops, size_bytes,
        accuracy, latency_ms), `summary` (the int8 file against
        `original`, see `evaluation.summarize`), `config`.

    Raises:
        ValueError: for bad settings, an unreadable model file, or a model
            that cannot be slimmed while it is to be slimmed (`l1`,
            `target` or `mark_ratio` above 0), before any training.

    Example:

    >>> result = compress("runs/compress", fast=True, verbose=0)  # doctest: +SKIP
    """
    if isinstance(config, CompressConfig):
        config = config.to_dict()
    config = CompressConfig(**{**(config or {}), **overrides})
    _io.check_writable(out)
    dataset = data_lib.load(
        config.data,
        image_size=parse_image_size(config.image_size) if config.image_size else None,
    )
    runner = StageRunner(out, config, dataset, None, verbose)
    if runner.user_model:
        _check_user_model(config, dataset)
    runner.state = _State(out, config, restart)
    runner.run_all()
    rows = stage_rows(runner)
    summary = summarize(rows, runner.user_model)
    result = {"rows": rows, "summary": summary, "config": config.to_dict()}
    _io.write_json(os.path.join(out, "metrics.json"), result)
    write_report(
        out,
        rows,
        summary,
        histories=runner.histories(),
        gamma_history=runner.gamma_history(),
        channels=runner.channels(),
    )
    return result


def _check_user_model(config, dataset):
    """Refuse, before any training, a model file that cannot go through."""
    from kerasreg.compression.slimming import check_slimmable
    from kerasreg.saving import load_model

    model = load_model(config.model, compile=False)
    try:
        data_lib.check_input_shape(model, dataset)
    except ValueError as error:
        raise ValueError(f"{config.model} on {config.data}: {error}") from None
    if config.slims:
        try:
            check_slimmable(model)
        except ValueError as error:
            raise ValueError(
                f"{error} Or pass l1=0 (--l1 0) and no target or mark_ratio."
            ) from None
