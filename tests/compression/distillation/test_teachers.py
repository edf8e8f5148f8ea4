"""Teachers: ensembles by logits or probabilities, softmax read as logits."""

import keras
import numpy as np

from kerasreg.compression.distillation import Distiller
from tests.compression.distillation.conftest import mlp, softmax, toy


def test_ensemble_average():
    x, _ = toy(16)
    teachers = [mlp(name=f"t{i}") for i in range(3)]
    logits = np.stack([t.predict(x, verbose=0) for t in teachers])
    by_logits = Distiller(mlp(), teachers, ensemble="logits")
    np.testing.assert_allclose(
        by_logits.teacher.predict(x, verbose=0), logits.mean(0), rtol=1e-5, atol=1e-6
    )
    by_probs = Distiller(mlp(), teachers, temperature=3.0, ensemble="probabilities")
    np.testing.assert_allclose(
        softmax(by_probs.teacher.predict(x, verbose=0) / 3.0),
        softmax(logits / 3.0).mean(0),
        rtol=1e-5,
    )
    assert by_probs.teachers == teachers
    # Members sharing one name (the same builder twice) are accepted.
    twins = Distiller(mlp(), [mlp(name="same"), mlp(name="same")])
    assert len(twins.teachers) == 2


def test_softmax_teacher_is_read_through_its_logits():
    x, _ = toy(16)
    fused = mlp(activation="softmax")
    inputs = keras.Input((6,))
    separate = keras.Model(inputs, keras.layers.Softmax()(mlp()(inputs)))
    for teacher in (fused, separate):
        distiller = Distiller(mlp(), teacher, temperature=2.0)
        logits = distiller.teacher.predict(x, verbose=0)
        np.testing.assert_allclose(
            softmax(logits), teacher.predict(x, verbose=0), rtol=1e-5, atol=1e-6
        )
        assert not np.allclose(logits.sum(-1), 1.0)
