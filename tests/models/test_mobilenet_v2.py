"""kerasreg.models.mobilenetv2: the CIFAR MobileNetV2."""

import keras
import pytest

from kerasreg import models, report


@pytest.mark.parametrize(
    "alpha, params, trainable, macs",
    [
        (1.0, 2_270_794, 2_236_682, 87_976_448),
        (0.5, 719_034, 700_490, 27_969_024),
    ],
)
def test_counts(cifar_model, alpha, params, trainable, macs):
    model = cifar_model("mobilenetv2", alpha=alpha)
    assert report.count_params(model) == params
    assert report.count_params(model, trainable_only=True) == trainable
    assert report.count_flops(model) == macs


def test_weights_are_keras_mobilenetv2_with_a_cifar_head(cifar_model):
    # Strides do not change weights: the same layers as Keras's MobileNetV2.
    ours = cifar_model("mobilenetv2", alpha=0.5)
    keras_base = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.5, include_top=False, weights=None
    )
    assert report.count_params(ours) == keras_base.count_params() + 1280 * 10 + 10


def test_cifar_strides_and_blocks(cifar_model):
    model = cifar_model("mobilenetv2")
    assert model.get_layer("stem_conv").strides == (1, 1)
    assert model.get_layer("block1_dw_conv").output.shape == (None, 32, 32, 32)
    assert model.get_layer("block2_dw_conv").strides == (1, 1)  # 2 on ImageNet
    assert model.get_layer("head_relu").output.shape == (None, 4, 4, 1280)
    dws = [la for la in model.layers if isinstance(la, keras.layers.DepthwiseConv2D)]
    adds = [la for la in model.layers if isinstance(la, keras.layers.Add)]
    assert (len(dws), len(adds)) == (17, 10)
    relus = [la for la in model.layers if isinstance(la, keras.layers.ReLU)]
    assert {float(la.max_value) for la in relus} == {6.0}
    assert "block1_expand_conv" not in {la.name for la in model.layers}


def test_channels_are_multiples_of_8(cifar_model):
    model = cifar_model("mobilenetv2", alpha=0.5)
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert all(c.filters % 8 == 0 for c in convs)
    assert model.get_layer("stem_conv").filters == 16
    assert model.get_layer("block17_project_conv").filters == 160


def test_bad_alpha():
    with pytest.raises(ValueError, match=r"Expected alpha > 0. Received: alpha=0"):
        models.mobilenetv2(alpha=0)
