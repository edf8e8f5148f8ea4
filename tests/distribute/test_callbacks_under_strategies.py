"""kerasreg's callbacks and Distiller do on every strategy what they do on one device.

The jobs are tests/distribute/callback_job.py's: `NetworkSlimming` (the same
frozen channels), `MagnitudePruning` (the same masks), `EarlyStopping` (the
same epochs) and kerasreg's `Distiller` (the same losses), under
`MirroredStrategy` (2 logical CPUs, in this process), multi-worker (2
processes through `launch`) and parameter servers (`AsyncTrainer` on a
`LocalCluster`, in a fresh process).
"""

import numpy as np
import pytest

from kerasreg.distribute import launch

from . import callback_job
from ._subprocess import run_result


@pytest.fixture(scope="module")
def one_device():
    return callback_job.effects("one")


def _assert_same(effects, reference):
    assert effects["dead"] == reference["dead"]
    assert effects["masks"] == reference["masks"]
    assert effects["early_epochs"] == reference["early_epochs"]
    np.testing.assert_allclose(
        effects["distill_loss"], reference["distill_loss"], rtol=1e-5
    )


def test_the_jobs_have_effects_to_compare(one_device):
    # Frozen channels, 75% sparsity, a stop before the 8th epoch.
    assert sum(len(v) for v in one_device["dead"].values()) >= 5
    for mask in one_device["masks"].values():
        assert abs(np.mean(mask) - 0.25) < 0.01
    assert 1 < one_device["early_epochs"] < 8


def test_mirrored(one_device):
    _assert_same(callback_job.effects("mirrored"), one_device)


def test_multiworker(one_device):
    _assert_same(launch(callback_job.effects, 2, args=("multiworker",)), one_device)


def test_parameter_server(one_device):
    # With one worker the asynchronous steps run in order, as on one device.
    # A pruning schedule would recompute masks while steps are in flight,
    # so parameter servers prune with masks fixed at the start (2:4).
    effects = run_result("callback_job.py", "ps", "2:4")
    reference = dict(one_device, masks=callback_job.effects_of_pruning("2:4"))
    _assert_same(effects, reference)
    assert all(abs(np.mean(m) - 0.5) < 0.01 for m in reference["masks"].values())
