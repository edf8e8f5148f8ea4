"""kerasreg.models: vgg and vgg11."""

import keras
import pytest

from kerasreg import models, report


def test_vgg11_layout_and_counts(cifar_model):
    model = cifar_model("vgg11")
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    pools = [la for la in model.layers if isinstance(la, keras.layers.MaxPooling2D)]
    assert len(pools) == 5
    assert model.get_layer("gap").input.shape == (None, 1, 1, 512)
    assert (
        report.count_params(model),
        report.count_params(model, trainable_only=True),
        report.count_flops(model),
    ) == (9_233_866, 9_228_362, 152_769_536)


def test_vgg_is_unchanged():
    model = models.vgg((8, 8, 1), 10, widths=(8, 16))
    assert model.count_params() == 4466
    assert model.get_layer("stage2_conv2_conv").filters == 16


def test_vgg11_needs_32_pixels():
    with pytest.raises(ValueError, match=r"vgg11 needs inputs of at least 32x32"):
        models.vgg11((16, 16, 3), 10)
