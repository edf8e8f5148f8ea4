"""Sync data parallel: strategy(), parity of 2 replicas with 1 device, resume."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasreg import models, training
from kerasreg.distribute import read_tf_config, strategy, synchronize_batchnorm


def _fit(strat, digits, sync, epochs=2, callbacks=(), n=256):
    keras.utils.set_random_seed(0)
    with strat.scope():
        model = training.compile_model(models.build("cnn-tiny", (8, 8, 1), 10))
    if sync:
        assert synchronize_batchnorm(model) > 0
    history = model.fit(
        digits.x_train[:n],
        digits.y_train[:n],
        epochs=epochs,
        batch_size=64,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )
    return model, np.array(history.history["loss"])


def test_two_replicas_match_one_device(digits):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    ref_model, ref = _fit(one, digits, sync=False)
    # Per-replica BN first, then synchronized BN on a second strategy: two
    # MirroredStrategy objects in one process must not share collective keys
    # (before the fix this aborted with "Shape mismatch in the collective").
    _, per_replica = _fit(strategy("mirrored", replicas=2), digits, sync=False)
    two = strategy("mirrored", replicas=2)
    assert two.num_replicas_in_sync == 2
    model, synced = _fit(two, digits, sync=True)
    # Synchronized BN: the same loss curve as one device, to float rounding.
    np.testing.assert_allclose(synced, ref, atol=1e-5)
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    # The cause of the gap: per-replica BN statistics on half batches.
    assert np.abs(per_replica - ref).max() > 1e-3


def test_backup_and_restore_resume_equals_uninterrupted(digits, tmp_path):
    two = strategy("mirrored", replicas=2)
    full, _ = _fit(two, digits, sync=True, epochs=2, n=128)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        _fit(two, digits, sync=True, epochs=2, n=128, callbacks=[backup, Interrupt()])
    resumed, losses = _fit(two, digits, sync=True, epochs=2, n=128, callbacks=[backup])
    assert len(losses) == 1  # only epoch 1 ran again
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_more_replicas_than_devices():
    with pytest.raises(ValueError, match="already initialised with 2"):
        strategy("mirrored", replicas=3)
    with pytest.raises(
        ValueError, match="Expected replicas >= 1. Received: replicas=0"
    ):
        strategy("mirrored", replicas=0)
    with pytest.raises(ValueError, match="Expected kind to be one of mirrored"):
        strategy("horovod")


GOOD = {
    "cluster": {"worker": ["127.0.0.1:2222"], "ps": ["127.0.0.1:2223"]},
    "task": {"type": "worker", "index": 0},
}


@pytest.mark.parametrize(
    "text, message",
    [
        ("{cluster: 1}", "TF_CONFIG is not valid JSON"),
        ('{"task": {}}', "must be a JSON object with a 'cluster'"),
        ('{"cluster": {"worker": ["host1"]}}', "address without a port: 'host1'"),
        ('{"cluster": {"gpu": ["h:1"]}}', "unknown job 'gpu'"),
        (
            '{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 3}}',
            "task index 3 is out of range for job 'worker'",
        ),
        ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "ps"}}', "task type 'ps'"),
    ],
)
def test_malformed_tf_config(text, message):
    with pytest.raises(ValueError, match=message):
        read_tf_config(text)


def test_tf_config_from_environment(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        strategy("ps")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["h:1"]}}))
    with pytest.raises(ValueError, match="missing: ps"):
        strategy("ps")
    monkeypatch.setenv("TF_CONFIG", json.dumps(GOOD))
    assert read_tf_config() == GOOD
