"""strip_pruning and kernel_sparsity: a pruned model made plain, saved, loaded."""

import keras
import numpy as np
import pytest

from kerasreg.compression.pruning import (
    ConstantSparsity,
    MagnitudePruning,
    kernel_sparsity,
    select_layers,
    strip_pruning,
)
from tests.compression.pruning.conftest import fit, mlp, toy_data


def test_strip_pruning_and_keras_file_round_trip(tmp_path):
    model = mlp()
    fit(model, [MagnitudePruning(ConstantSparsity(0.7, 0))])
    plain = strip_pruning(model)
    x, _ = toy_data(32)
    assert plain is not model
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    assert kernel_sparsity(plain) == kernel_sparsity(model)
    assert all(layer.kernel.constraint is None for layer in select_layers(plain))
    path = str(tmp_path / "pruned.keras")
    plain.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), plain.predict(x, verbose=0)
    )
    assert kernel_sparsity(loaded)["sparsity"] == pytest.approx(0.7, abs=2e-3)
