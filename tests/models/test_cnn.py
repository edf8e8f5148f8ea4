"""kerasreg.models.cnn and the cnn-tiny / cnn-nano students."""

import keras
import pytest

from kerasreg import models


def test_small_students_param_counts():
    # Conv(8, 16)-BN-ReLU-pool and Conv(8)-BN-ReLU-pool, then Dense(10).
    assert models.build("cnn-tiny", (8, 8, 1), 10).count_params() == 1970
    assert models.build("cnn-nano", (8, 8, 1), 10).count_params() == 1394


def test_models_output_logits():
    model = models.cnn((8, 8, 1), 10)
    assert model.layers[-1].activation is keras.activations.linear


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.cnn((8, 8), 10), r"Expected input_shape=\(H, W, C\)"),
        (lambda: models.cnn((8, 8, 1), 1), r"Expected num_classes >= 2"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
