"""AsyncTrainer on a real LocalCluster, with a worker killed mid-training.

The parameter-server run is the `kill_run` fixture (tests/distribute/
conftest.py), which runs tests/distribute/ps_job.py in a fresh process.
"""

import keras
import numpy as np
import pytest

from kerasreg.distribute import AsyncTrainer, LocalCluster, strategy
from kerasreg.distribute.async_trainer import _as_dataset_fn

from ._subprocess import alive, run_result


def test_async_training_survives_a_killed_worker(kill_run):
    history = kill_run["history"]
    # 2 epochs of ceil(1437 / 64) = 23 steps: every step completed although
    # worker 0 was SIGKILLed at step 5 and restarted after epoch 0.
    assert kill_run["steps_completed"] == 46
    assert history["steps"] == [23.0, 46.0]
    # At-least-once: a step whose worker died after pushing its update may
    # be retried, so the parameter server can count one update more.
    assert 46 <= kill_run["updates"] <= 48
    assert kill_run["killed"] not in kill_run["pids_after_restart"]
    assert history["val_accuracy"][-1] > 0.5  # 10 classes: chance is 0.1
    assert history["loss"][1] < history["loss"][0]


def test_staleness_is_measured_per_step(kill_run):
    staleness = np.array(kill_run["staleness"])
    assert 40 <= len(staleness) <= 46  # logs of a step on the dead worker are lost
    assert staleness.min() >= 0
    history = kill_run["history"]
    assert max(history["staleness_max"]) == staleness.max()
    # The epoch means come from totals kept on the parameter server.
    assert abs(np.mean(history["staleness"]) - staleness.mean()) < 0.5


def test_async_trainer_composes_with_distiller_and_slimming(kill_run):
    distill = kill_run["distill"]
    assert distill["steps"] == [23.0, 46.0]
    assert "dead_channels" in distill
    assert np.all(np.isfinite(distill["loss"]))
    assert distill["loss"][1] < distill["loss"][0]
    assert distill["accuracy"][1] > distill["accuracy"][0]
    assert kill_run["student_accuracy"] > 0.2  # 10 classes: chance is 0.1


@pytest.fixture(scope="module")
def restart_runs(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("ps-checkpoints"))
    killed = run_result("ps_job.py", "restart", "kill", directory)
    resumed = run_result("ps_job.py", "restart", "resume", directory)
    return killed, resumed, directory


def test_a_killed_parameter_server_resumes_from_its_checkpoint(restart_runs):
    killed, resumed, directory = restart_runs
    assert killed["error"] == (
        "A parameter server (or the coordinator's link to it) was lost "
        "(UnavailableError); its variables are gone with it. Restart the cluster "
        f"and call fit again with checkpoint_dir={directory!r} to resume from its "
        "latest checkpoint."
    )
    # The server died right after the step-33 checkpoint, in epoch 1; the
    # fresh cluster ran epoch 1's last 13 steps and epoch 2: 3 * 23 in all.
    assert resumed["steps_completed"] == 69 and resumed["updates"] == 69
    assert resumed["history"]["steps"] == [46.0, 69.0]
    assert resumed["history"]["val_accuracy"][-1] > 0.5  # chance is 0.1
    pids = killed["pids"] + resumed["pids"]
    assert len(pids) == 3 and not [pid for pid in pids if alive(pid)]


def test_bad_arguments_are_rejected():
    with pytest.raises(
        ValueError, match="Expected num_workers >= 1. Received: num_workers=0"
    ):
        LocalCluster(0, 1)
    with pytest.raises(ValueError, match="Expected 3 ports"):
        LocalCluster(2, 1, ports=[1, 2])
    mirrored = strategy("mirrored", replicas=2)
    with mirrored.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(
        ValueError, match="needs a tf.distribute.ParameterServerStrategy"
    ):
        AsyncTrainer(model, mirrored)


def test_dataset_fn_must_be_callable():
    with pytest.raises(TypeError, match="Expected dataset_fn to be a callable"):
        _as_dataset_fn(None, None, "train.tfrecord", 64, 10, 0)
    with pytest.raises(ValueError, match="steps_per_epoch is required with dataset_fn"):
        _as_dataset_fn(None, None, lambda ctx: None, 64, None, 0)
    fn, steps = _as_dataset_fn(np.zeros((130, 2)), np.zeros(130), None, 64, None, 0)
    assert callable(fn) and steps == 3
