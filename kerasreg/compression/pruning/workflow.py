"""`prune`: magnitude pruning end to end, as `kerasreg prune` runs it.

`prune` fine-tunes a trained model under `MagnitudePruning` and reports
what sparsity buys.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasreg.compression.pruning.magnitude_pruning import (
    MagnitudePruning,
    _parse_block,
)
from kerasreg.compression.pruning.schedules import PolynomialDecay
from kerasreg.compression.pruning.sparsity import kernel_sparsity, strip_pruning

__all__ = ["prune"]


def prune(
    model,
    data="digits",
    *,
    sparsity=0.8,
    epochs=10,
    mode="layer",
    learning_rate=1e-3,
    batch_size=64,
    seed=0,
    out=None,
    verbose=0,
):
    """Fine-tune a trained model while pruning it, and report (`kerasreg prune`).

    Sparsity rises along `PolynomialDecay(0, sparsity)` over the first two
    thirds of the steps (masks updated ten times an epoch); the last third
    lets the surviving weights recover.

    Args:
        model: a trained logits `keras.Model`, the path of a `.keras` file
            or a reference model name.
        data: anything `kerasreg.data.load` takes. Defaults to `"digits"`.
        sparsity: final fraction of zero kernel weights, in `[0, 1)`.
            Defaults to `0.8`.
        epochs: fine-tuning epochs. Defaults to `10`.
        mode: `"layer"` or `"global"` (see `MagnitudePruning`). Defaults to
            `"layer"`.
        learning_rate: Adam learning rate. Defaults to `1e-3`.
        batch_size: batch size. Defaults to `64`.
        seed: seed. Defaults to `0`.
        out: directory for `pruned.keras`, `history.json` and `metrics.json`;
            nothing is written when `None`.
        verbose: passed to `fit`. Defaults to `0`.

    Returns:
        A dict of metrics (`accuracy_before`, `accuracy_after`, `sparsity`,
        `gzip_bytes_before`, `gzip_bytes_after`) with the stripped model
        under `"model"` and the per-epoch logs under `"history"`.
    """
    import gzip
    import os

    from kerasreg import _io, training
    from kerasreg import data as data_lib
    from kerasreg import models as models_lib

    _parse_block(mode)
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"Expected 0 <= sparsity < 1. Received: sparsity={sparsity}")
    if epochs < 1:
        raise ValueError(f"Expected epochs >= 1. Received: epochs={epochs}")
    dataset = data_lib.load(data)
    model = models_lib.resolve(model, dataset.input_shape, dataset.num_classes)
    keras.utils.set_random_seed(seed)
    model = strip_pruning(model)  # a copy: the caller's model is untouched
    training.compile_model(model, learning_rate)

    def gzip_size(m):  # what sparsity buys once the file is compressed
        weights = b"".join(np.asarray(w).tobytes() for w in m.get_weights())
        return len(gzip.compress(weights))

    before = training.evaluate(model, dataset)
    gzip_before = gzip_size(model)
    steps = -(-dataset.num_train // batch_size)
    schedule = PolynomialDecay(
        0.0,
        sparsity,
        begin_step=0,
        end_step=max(1, 2 * steps * epochs // 3),
        frequency=max(1, steps // 10),
    )
    logs = training.fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[MagnitudePruning(schedule, mode=mode)],
        verbose=verbose,
    )

    pruned = strip_pruning(model)
    metrics = {
        "accuracy_before": before,
        "accuracy_after": training.evaluate(pruned, dataset),
        "sparsity": kernel_sparsity(pruned)["sparsity"],
        "gzip_bytes_before": gzip_before,
        "gzip_bytes_after": gzip_size(pruned),
    }
    if out is not None:
        _io.save_model(pruned, os.path.join(out, "pruned.keras"))
        _io.write_json(os.path.join(out, "history.json"), logs)
        _io.write_json(os.path.join(out, "metrics.json"), metrics)
    return {**metrics, "model": pruned, "history": logs}
