"""Pruning schedules: tfmot's values, validation, serialization."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from kerasreg.compression.pruning import ConstantSparsity, PolynomialDecay

# (class name, kwargs) pairs compared with tfmot at every step of STEPS.
CASES = [
    ("ConstantSparsity", dict(target_sparsity=0.5, begin_step=0)),
    (
        "ConstantSparsity",
        dict(target_sparsity=0.8, begin_step=7, end_step=90, frequency=3),
    ),
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.0,
            final_sparsity=0.8,
            begin_step=0,
            end_step=100,
            frequency=10,
        ),
    ),
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.1,
            final_sparsity=0.9,
            begin_step=13,
            end_step=77,
            power=2,
            frequency=7,
        ),
    ),
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.25,
            final_sparsity=0.75,
            begin_step=5,
            end_step=1000,
            power=5,
            frequency=1,
        ),
    ),
]
STEPS = list(range(0, 130)) + [500, 999, 1000, 1001, 5000]

TFMOT_PYTHON = os.environ.get("KERASREG_TFMOT_PYTHON", sys.executable)

_TFMOT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    from tensorflow_model_optimization.sparsity import keras as sparsity
    cases, steps = json.loads(sys.stdin.read())
    steps = tf.constant(steps, tf.int64)  # all steps at once, element-wise
    out = []
    for name, kwargs in cases:
        prune, value = getattr(sparsity, name)(**kwargs)(steps)
        value = tf.broadcast_to(value, tf.shape(steps))
        out.append([prune.numpy().tolist(), value.numpy().tolist()])
    print("RESULT" + json.dumps(out))
    """
)


def _tfmot_values():
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [TFMOT_PYTHON, "-c", _TFMOT_SCRIPT],
        env=env,
        input=json.dumps([CASES, STEPS]),
        capture_output=True,
        text=True,
    )
    if "No module named 'tensorflow_model_optimization'" in done.stderr:
        pytest.skip("tensorflow-model-optimization is not importable")
    assert done.returncode == 0, done.stderr[-2000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


def _ours(name, kwargs):
    cls = {"ConstantSparsity": ConstantSparsity, "PolynomialDecay": PolynomialDecay}
    return cls[name](**kwargs)


def test_same_values_as_tfmot_at_every_step():
    expected = _tfmot_values()
    for (name, kwargs), (prune, value) in zip(CASES, expected):
        got_prune, got_value = _ours(name, kwargs)(np.array(STEPS))
        got_value = np.broadcast_to(np.asarray(got_value), len(STEPS))
        np.testing.assert_array_equal(np.asarray(got_prune), prune)
        # Bit-identical float32 values, not merely close ones.
        np.testing.assert_array_equal(got_value, np.float32(value))
        assert any(prune) and not all(prune)


def test_python_and_tensor_paths_agree():
    for name, kwargs in CASES:
        schedule = _ours(name, kwargs)
        prune, value = schedule(np.array(STEPS))
        value = np.broadcast_to(np.asarray(value), len(STEPS))
        assert [schedule.is_pruning_step(s) for s in STEPS] == list(np.asarray(prune))
        for step in STEPS[
            ::10
        ]:  # the scalar path (a vectorised pow may differ by 1 ulp)
            assert schedule.sparsity_at(step) == pytest.approx(
                value[STEPS.index(step)], rel=1e-6
            )


def test_polynomial_decay_values():
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
    assert schedule.sparsity_at(0) == 0.0
    assert schedule.sparsity_at(50) == pytest.approx(0.8 * (1 - 0.5**3))
    assert schedule.sparsity_at(100) == pytest.approx(0.8)
    assert schedule.sparsity_at(10_000) == pytest.approx(0.8)
    assert [s for s in range(0, 131) if schedule.is_pruning_step(s)] == list(
        range(0, 101, 10)
    )


def test_constant_sparsity_forever():
    schedule = ConstantSparsity(0.6, begin_step=5, frequency=4)
    assert not schedule.is_pruning_step(4)
    assert schedule.is_pruning_step(5)
    assert schedule.is_pruning_step(10_001)
    assert schedule.sparsity_at(0) == pytest.approx(0.6)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: ConstantSparsity(1.0, 0),
            r"Expected 0 <= target_sparsity < 1\. Received: target_sparsity=1\.0",
        ),
        (lambda: ConstantSparsity(-0.1, 0), r"Received: target_sparsity=-0\.1"),
        (
            lambda: PolynomialDecay(0.0, 1.2, 0, 10),
            r"Expected 0 <= final_sparsity < 1\. Received: final_sparsity=1\.2",
        ),
        (lambda: PolynomialDecay(-1, 0.5, 0, 10), r"Received: initial_sparsity=-1"),
        (
            lambda: ConstantSparsity(0.5, 20, end_step=10),
            r"Expected begin_step <= end_step\. Received: begin_step=20, end_step=10",
        ),
        (
            lambda: PolynomialDecay(0.0, 0.5, 20, 10),
            r"Received: begin_step=20, end_step=10",
        ),
        (
            lambda: PolynomialDecay(0.0, 0.5, 10, 10),
            r"Expected begin_step < end_step for a decay",
        ),
        (lambda: PolynomialDecay(0.0, 0.5, 0, -1), r"Received: end_step=-1"),
        (
            lambda: ConstantSparsity(0.5, -3),
            r"Expected begin_step >= 0\. Received: begin_step=-3",
        ),
        (
            lambda: ConstantSparsity(0.5, 0, frequency=0),
            r"Expected frequency > 0\. Received: frequency=0",
        ),
        (lambda: ConstantSparsity(0.5, 0, end_step=-5), r"Received: end_step=-5"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("name, kwargs", CASES)
def test_serialization_round_trip(name, kwargs):
    schedule = _ours(name, kwargs)
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    for step in (0, 7, 50, 100, 2000):
        assert restored.sparsity_at(step) == schedule.sparsity_at(step)
