"""Multi-worker sync training on 127.0.0.1: parity, kill and resume, bad input.

Real worker processes, started by `kerasreg.distribute.launch` and by
`kerasreg train --strategy multiworker --workers 2`, each with its own
`TF_CONFIG`, all-reducing over gRPC exactly as across machines.
"""

import json
import os
import re
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasreg import cli, data, distribute, training
from kerasreg.distribute import WorkerError, launch

from . import mw_job
from ._subprocess import alive

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    """Digits with 1,408 training images: 22 batches of 64, split 32 + 32.

    With a last batch that does not split evenly (1437 = 22 * 64 + 29, 15 +
    14), Keras averages the two replicas' mean losses with equal weights,
    not by their sizes, and the curves drift apart by about 1e-4.
    """
    digits = data.load("digits")
    path = tmp_path_factory.mktemp("mw") / "digits1408.npz"
    np.savez(
        path,
        x_train=digits.x_train[:1408],
        y_train=digits.y_train[:1408],
        x_test=digits.x_test,
        y_test=digits.y_test,
    )
    return str(path)


@pytest.fixture(scope="module")
def one_device(npz):
    return training.train(
        "cnn-tiny", npz, epochs=mw_job.EPOCHS, batch_size=mw_job.BATCH, verbose=0
    )


@pytest.fixture(scope="module")
def cli_run(npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("mw") / "out"
    command = [sys.executable, "-m", "kerasreg.cli", "train", "--model", "cnn-tiny"]
    command += ["--data", npz, "--epochs", str(mw_job.EPOCHS), "--out", str(out)]
    command += ["--strategy", "multiworker", "--workers", "2"]
    process = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return out


def test_two_workers_match_one_device(cli_run, one_device):
    history = json.loads((cli_run / "history.json").read_text())
    np.testing.assert_allclose(history["loss"], one_device.history["loss"], atol=1e-4)
    np.testing.assert_allclose(
        history["val_loss"], one_device.history["val_loss"], atol=1e-4
    )
    model = keras.saving.load_model(cli_run / "model.keras")
    for a, b in zip(model.get_weights(), one_device.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    # The chief wrote the artefacts; the backups were removed at the end.
    assert sorted(p.name for p in cli_run.iterdir()) == [
        "curves.png",
        "history.json",
        "metrics.json",
        "model.keras",
    ]


def _uninterrupted(npz, tmp_path):
    """The same job run through without a kill (its marker already exists).

    The reference must be this job, not the `kerasreg train` CLI run: with
    oneDNN on, the two programs differ by up to 3e-4 in the weights (their
    thread pools differ), while the job resumed equals the job run through
    to the last bit.
    """
    marker, pids = tmp_path / "no-kill", tmp_path / "pids-uninterrupted"
    marker.touch()
    pids.mkdir()
    return launch(
        mw_job.train_job, 2, args=(npz, str(tmp_path / "full"), str(marker), str(pids))
    )


def test_killed_worker_stops_the_job_and_a_rerun_resumes(npz, tmp_path):
    out, marker, pids = tmp_path / "out", tmp_path / "killed", tmp_path / "pids"
    pids.mkdir()
    args = (npz, str(out), str(marker), str(pids))
    with pytest.raises(WorkerError) as error:
        launch(mw_job.train_job, 2, args=args)
    message = str(error.value)
    _remove_kept_logs(message)
    assert message.startswith("Worker 1 of 2 (pid ")
    assert "was killed by SIGKILL" in message
    assert "Stopped the other 1 worker(s)" in message
    first = [int(name.rsplit("-", 1)[1]) for name in os.listdir(pids)]
    assert len(first) == 2 and not [pid for pid in first if alive(pid)]
    # The last checkpoint is the end of epoch 0 (the kill came in epoch 1).
    meta = json.loads(
        (out / "backup" / "worker-0" / "training_metadata.json").read_text()
    )
    assert meta["epoch"] == 1

    resumed = launch(mw_job.train_job, 2, args=args)
    assert len(resumed["history"]["loss"]) == mw_job.EPOCHS - 1  # epochs 1 and 2
    assert resumed["steps"] == mw_job.EPOCHS * 1408 // mw_job.BATCH
    uninterrupted = _uninterrupted(npz, tmp_path)
    assert uninterrupted["steps"] == resumed["steps"]
    for a, b in zip(resumed["weights"], uninterrupted["weights"]):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # No thread per collective is left behind: with a 300 s collective
    # timeout each all-reduce kept a sleeping thread, about 2,300 here.
    assert resumed["threads"] < 500
    everyone = [int(name.rsplit("-", 1)[1]) for name in os.listdir(pids)]
    assert len(everyone) == 4 and not [pid for pid in everyone if alive(pid)]
    reference = os.listdir(tmp_path / "pids-uninterrupted")
    assert len(reference) == 2
    assert not [n for n in reference if alive(int(n.rsplit("-", 1)[1]))]


def _remove_kept_logs(message):
    """Delete the log folder `launch` keeps after a failure, named in `message`."""
    import shutil

    kept = re.search(r"its log: (\S+)/worker-\d+\.log", message)
    assert kept, message
    shutil.rmtree(kept.group(1))


def _unimportable():
    return 0


def test_launch_refuses_bad_input_before_any_worker_starts():
    with pytest.raises(
        ValueError, match=r"^Expected workers >= 1. Received: workers=0$"
    ):
        launch(mw_job.train_job, 0)
    with pytest.raises(ValueError, match="defined at the top level of a module"):
        launch(lambda: 0, 2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"^Port {port} on 127.0.0.1 is in use"):
            launch(mw_job.train_job, 1, ports=[port])
    # A function whose module the workers would not find on their path.
    _unimportable.__module__ = "my_models_not_installed"
    with pytest.raises(
        ValueError,
        match="^The workers cannot import module 'my_models_not_installed' "
        r"\(of _unimportable\): it is not on sys.path",
    ):
        launch(_unimportable, 2)
    with pytest.raises(ValueError, match="must pickle"):
        launch(mw_job.train_job, 2, args=(lambda: 0,))


def test_a_worker_that_raises_is_named():
    with pytest.raises(WorkerError) as error:
        launch(mw_job.fail_job, 2, args=("images/",))
    assert re.fullmatch(
        r"Worker 1 of 2 \(pid \d+\) exited with code 1 after \d+ s: "
        r"FileNotFoundError: no such file: images/ \(its log: \S+/worker-1\.log\)\. "
        r"Stopped the other 1 "
        r"worker\(s\)\. Rerun to resume from the job's last BackupAndRestore "
        r"checkpoint, if it saves one\.",
        str(error.value),
    )
    _remove_kept_logs(str(error.value))


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--workers", "0"], {}, "--workers must be at least 1, not 0"),
        ([], {}, "--strategy multiworker needs --workers N"),
        (
            ["--workers", "2", "--batch-size", "63"],
            {},
            "the global batch of 63 does not split evenly over 2 workers",
        ),
        (
            [],
            {"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:2222"]}}'},
            "Multi-worker training needs this process's task in TF_CONFIG",
        ),
        (
            ["--workers", "2"],
            {"TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:2222"]}}'},
            "TF_CONFIG is set, so this process is one task of that cluster",
        ),
    ],
)
def test_cli_refuses_bad_input_in_one_line(
    argv, env, message, capsys, monkeypatch, tmp_path
):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "out"
    argv = ["train", "--model", "cnn-tiny", "--strategy", "multiworker", *argv]
    assert cli.main([*argv, "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_global_batch_must_split_over_replicas():
    two = distribute.strategy("mirrored", replicas=2)
    with pytest.raises(
        ValueError, match="The global batch of 65 does not split evenly over the 2"
    ):
        training.train("cnn-tiny", "digits", epochs=1, batch_size=65, strategy=two)


def test_an_image_folder_trains_and_is_evaluated_whole(tmp_path):
    # Streamed batches: each worker takes its share of every global batch,
    # and every worker evaluates all test images (two batches of up to 256)
    # on its own copy of the model; distributed predict would gather both
    # workers' batches.
    from ..conftest import make_image_folder

    image_folder = make_image_folder(
        tmp_path / "images", train=16, test=100, size=(8, 8)
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "kerasreg.cli", "train", "--model", "cnn-tiny"]
    command += ["--data", str(image_folder), "--epochs", "2", "--batch-size", "8"]
    command += ["--strategy", "multiworker", "--workers", "2", "--out", str(out)]
    process = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    model = keras.saving.load_model(out / "model.keras")
    assert metrics["test_accuracy"] == training.evaluate(model, str(image_folder))
    assert metrics["test_accuracy"] > 1 / 3  # 3 classes
