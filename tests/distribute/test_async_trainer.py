"""AsyncTrainer on a real LocalCluster, with a worker killed mid-training.

The parameter-server run happens in a fresh process (tests/distribute/
ps_job.py): connecting to a cluster changes TensorFlow's process-wide
context, which must not leak into the rest of the test session.
"""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasreg.distribute import AsyncTrainer, LocalCluster, strategy
from kerasreg.distribute.async_trainer import _as_dataset_fn

HERE = os.path.dirname(__file__)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; so is one reaped since os.kill.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def kill_run():
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, "ps_job.py"), "kill"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [x for x in process.stdout.splitlines() if x.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


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


def test_no_server_outlives_the_cluster(kill_run):
    pids = kill_run["pids"] + kill_run["pids_after_restart"]
    assert not [pid for pid in pids if _alive(pid)]


def test_port_in_use_is_reported():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cluster = LocalCluster(1, 1, ports=[port, port + 1 if port < 65535 else 1025])
        with pytest.raises(OSError, match=f"Port {port} on 127.0.0.1 is in use"):
            cluster.start()
        assert cluster.pids == {}


def test_ctrl_c_leaves_no_orphans(tmp_path):
    # Ctrl-C interrupts a terminal's foreground job, whose SIGINT raises
    # KeyboardInterrupt. The script sets that up itself: it inherits SIGINT
    # from pytest, which ignores it when started as a background job of a
    # shell without job control (`sh -c 'pytest &'`, some CI runners), and
    # an ignored SIGINT would leave it asleep, not interrupted.
    script = tmp_path / "interrupted.py"
    script.write_text(
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from kerasreg.distribute import LocalCluster\n"
        "with LocalCluster(1, 1) as cluster:\n"
        "    print(*cluster.pids.values(), flush=True)\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        pids = [int(p) for p in process.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        process.send_signal(signal.SIGINT)
        # A safety net: the exit takes well under a second, loaded or not.
        process.wait(timeout=60)
    finally:
        process.kill()
    # Python re-raises an uncaught KeyboardInterrupt as death by SIGINT.
    assert process.returncode == -signal.SIGINT
    assert not [pid for pid in pids if _alive(pid)]


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
