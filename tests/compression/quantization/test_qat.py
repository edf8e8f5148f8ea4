"""quantize_aware: the simulation matches the int8 file, folding, saving, errors."""

import keras
import numpy as np
import pytest
from keras import layers

from kerasreg.compression import calibrate, quantize_aware, to_tflite
from kerasreg.compression.export import TFLiteModel
from kerasreg.compression.pruning import kernel_sparsity
from kerasreg.compression.quantization import (
    ActivationQuantizer,
    QuantizedConv2D,
    QuantizedDense,
    fold_batchnorm,
    is_quantization_aware,
)

RNG = np.random.default_rng(0)
X = RNG.uniform(0.0, 1.0, (48, 8, 8, 3)).astype("float32")


def _randomize_batchnorm(model, seed=1):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(0.0, 0.1, n),
                    rng.normal(0.0, 0.1, n),
                    rng.uniform(0.5, 2.0, n),
                ]
            )
    return model


def _mobile_block():
    """Conv-BN-ReLU6, depthwise-BN-ReLU6, a projection with a residual Add, a head."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(8, 1, use_bias=False)(y))
    x = layers.Add()([x, y])
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(5)(x)
    return _randomize_batchnorm(keras.Model(inputs, outputs, name="block"))


def _per_channel_scales(path):
    """The scale counts of the int8 tensors of a `.tflite` file with more than one."""
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(path)).get_tensor_details()
    counts = [len(d["quantization_parameters"]["scales"]) for d in details]
    return sorted(n for n, d in zip(counts, details) if d["dtype"] == np.int8 and n > 1)


@pytest.mark.parametrize("per_channel", [True, False])
def test_the_int8_file_computes_what_the_simulation_computes(tmp_path, per_channel):
    qat = calibrate(quantize_aware(_mobile_block(), per_channel=per_channel), X)
    path = to_tflite(qat, str(tmp_path / "qat.tflite"), "int8-full")
    file = TFLiteModel(path)
    assert file.input_dtype == np.int8  # full int8 with no representative data
    # The file keeps the scales the model trained with: one per output
    # channel of the three 8-channel kernels and the 5-unit classifier, or
    # one per tensor everywhere.
    assert _per_channel_scales(path) == ([5, 8, 8, 8] if per_channel else [])
    simulated = qat.predict(X, verbose=0)
    scale, _ = file.output_quantization
    steps = np.abs(file.predict(X) - simulated) / scale
    # At most one step of the output scale: the file rescales in fixed
    # point where the simulation rounds in float32.
    assert steps.max() <= 1.0 + 1e-3
    assert np.mean(steps < 0.5) > 0.9


def test_a_qat_model_exports_only_with_the_scales_it_trained_with(tmp_path):
    qat = calibrate(quantize_aware(_mobile_block(), per_channel=False), X)
    with pytest.raises(
        ValueError,
        match=r"Model 'block_qat' was trained quantization-aware with "
        r"per_channel=False, and its file must use the same weight scales. "
        r"Received: per_channel=True",
    ):
        to_tflite(qat, str(tmp_path / "qat.tflite"), "int8-full", per_channel=True)
    assert not (tmp_path / "qat.tflite").exists()


def test_the_bias_is_rounded_to_the_int32_grid_of_the_file(tmp_path):
    from kerasreg import models

    keras.utils.set_random_seed(0)
    model = models.build("resnet20", (32, 32, 3), 10)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            _randomize_batchnorm(keras.Model(model.input, layer.output), seed=2)
    x = np.random.default_rng(3).uniform(0.0, 1.0, (32, 32, 32, 3)).astype("float32")
    qat = calibrate(quantize_aware(model), x)
    conv = qat.get_layer("stem_conv")
    source = qat.get_layer("image_quant")
    step = source.scale().numpy() * np.abs(conv.kernel.numpy()).max((0, 1, 2)) / 127
    steps = conv.quantized_bias().numpy() / step
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    # Seven convolutions deep, an unrounded bias (the old simulation) sent
    # 7.2% of these int8 values one or more steps away from the file's.
    stage = keras.Model(qat.input, qat.get_layer("stage1_block3_out_quant").output)
    file = TFLiteModel(to_tflite(stage, str(tmp_path / "stage.tflite"), "int8-full"))
    scale, _ = file.output_quantization
    steps = np.abs(file.predict(x) - stage.predict(x, verbose=0)) / scale
    assert np.mean(steps > 0.5) < 0.01


def test_the_fused_layers_are_those_the_converter_fuses():
    qat = quantize_aware(_mobile_block())
    kinds = [type(layer).__name__ for layer in qat.layers]
    assert "BatchNormalization" not in kinds and "ReLU" not in kinds
    assert kinds.count("ActivationQuantizer") == 7  # input, 3 convs, add, pool, dense
    convs = [x for x in qat.layers if isinstance(x, QuantizedConv2D)]
    assert [c.activation.__name__ for c in convs] == ["relu6", "linear"]


def test_batchnorm_folding_is_exact_in_float():
    conv = layers.Conv2D(4, 3, use_bias=True)
    bn = layers.BatchNormalization(epsilon=1e-3)
    model = _randomize_batchnorm(keras.Sequential([keras.Input((8, 8, 3)), conv, bn]))
    kernel, bias = fold_batchnorm(conv, bn)
    folded = layers.Conv2D(4, 3)
    folded.build((None, 8, 8, 3))
    folded.set_weights([kernel, bias])
    np.testing.assert_allclose(
        folded(X).numpy(), model(X, training=False).numpy(), rtol=1e-5, atol=1e-5
    )


def test_depthwise_folding_scales_each_output_channel():
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    bn = layers.BatchNormalization()
    model = _randomize_batchnorm(keras.Sequential([keras.Input((8, 8, 3)), dw, bn]))
    kernel, bias = fold_batchnorm(dw, bn)
    folded = layers.DepthwiseConv2D(3, depth_multiplier=2)
    folded.build((None, 8, 8, 3))
    folded.set_weights([kernel, bias])
    np.testing.assert_allclose(
        folded(X).numpy(), model(X, training=False).numpy(), rtol=1e-5, atol=1e-5
    )


def test_ranges_follow_training_and_round_trip_through_keras(tmp_path):
    qat = quantize_aware(_mobile_block())
    qat.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = RNG.integers(0, 5, len(X))
    qat.fit(X, y, epochs=1, batch_size=16, verbose=0)
    first = next(x for x in qat.layers if isinstance(x, ActivationQuantizer))
    assert float(first.range_max.numpy()) > 0.9  # the inputs reach 1.0
    qat.save(tmp_path / "qat.keras")  # mid-training, the optimizer state too
    loaded = keras.models.load_model(tmp_path / "qat.keras")
    assert is_quantization_aware(loaded)
    for a, b in zip(qat.layers, loaded.layers):
        if isinstance(a, ActivationQuantizer):
            assert a.range_min.numpy() == b.range_min.numpy()
            assert a.range_max.numpy() == b.range_max.numpy()
    np.testing.assert_allclose(loaded.predict(X, verbose=0), qat.predict(X, verbose=0))
    loaded.fit(X, y, epochs=1, batch_size=16, verbose=0)  # training goes on


def test_zeros_of_a_pruned_kernel_survive_quantization_aware_training():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(8, 3), layers.Flatten(), layers.Dense(5)]
    )
    for layer in (model.layers[0], model.layers[2]):
        kernel = layer.kernel.numpy()
        kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.7)] = 0.0
        layer.kernel.assign(kernel)
    before = kernel_sparsity(model)["sparsity"]
    qat = quantize_aware(model)
    qat.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(X, RNG.integers(0, 5, len(X)), epochs=2, batch_size=8, verbose=0)
    heads = [x for x in qat.layers if isinstance(x, (QuantizedConv2D, QuantizedDense))]
    assert all(x.keep_zeros for x in heads)
    after = kernel_sparsity(qat, heads)["sparsity"]
    assert before == pytest.approx(0.7, abs=0.01)
    assert after == pytest.approx(before, abs=0.001)


def test_nested_models_are_inlined():
    inner = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.BatchNormalization()],
        name="inner",
    )
    inputs = keras.Input((8, 8, 3))
    outputs = layers.Dense(3)(layers.Flatten()(layers.ReLU()(inner(inputs))))
    qat = calibrate(quantize_aware(keras.Model(inputs, outputs)), X)
    kinds = [type(x).__name__ for x in qat.layers]
    assert kinds.count("QuantizedConv2D") == 1 and "Sequential" not in kinds


def test_a_layer_with_no_int8_simulation_is_named():
    inputs = keras.Input((8, 8, 3))
    x = layers.LayerNormalization(name="norm")(layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    with pytest.raises(ValueError) as error:
        quantize_aware(model)
    assert str(error.value).startswith(
        "quantize_aware has no int8 simulation for layer(s) ['norm'] "
        "(LayerNormalization) of model"
    )
    with pytest.warns(UserWarning, match=r"left layer\(s\) \['norm'\]"):
        qat = quantize_aware(model, strict=False)
    assert any(type(x).__name__ == "LayerNormalization" for x in qat.layers)


def test_bad_arguments_are_refused():
    model = _mobile_block()
    with pytest.raises(ValueError, match=r"bits must be 8. Received: bits=4"):
        quantize_aware(model, bits=4)
    with pytest.raises(ValueError, match=r"ema_decay=1.5"):
        quantize_aware(model, ema_decay=1.5)
    pooling = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.GlobalAveragePooling2D()]
    )
    with pytest.raises(
        ValueError, match="has no Conv2D, DepthwiseConv2D or Dense layer"
    ):
        quantize_aware(pooling)
    with pytest.raises(ValueError, match="is already quantization-aware"):
        quantize_aware(quantize_aware(model))
    with pytest.raises(ValueError, match="has no ActivationQuantizer"):
        calibrate(model, X)


def test_quantization_aware_training_under_mirrored_strategy():
    from kerasreg.distribute import strategy

    two = strategy("mirrored", replicas=2)
    with two.scope():
        qat = quantize_aware(_mobile_block())
        qat.compile(
            "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
    qat.fit(X, RNG.integers(0, 5, len(X)), epochs=1, batch_size=16, verbose=0)
    quantizers = [x for x in qat.layers if isinstance(x, ActivationQuantizer)]
    assert all(float(q.seen.numpy()) == 1.0 for q in quantizers)
    # Replicas agree on each range: the input range is that of the data.
    assert float(quantizers[0].range_min.numpy()) == 0.0
    assert 0.9 < float(quantizers[0].range_max.numpy()) <= 1.0


def test_a_keras_applications_model_with_hard_swish_ops_converts(tmp_path):
    # MobileNetV3's hard-swish is `x * relu6(x + 3) / 6` written with
    # keras.ops: graph operations, not layers, which TFLite runs in int8.
    model = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), classes=4, alpha=0.75
    )
    qat = calibrate(
        quantize_aware(model), 255.0 * X[:8, :, :, :].repeat(4, 1).repeat(4, 2)
    )
    assert not any(isinstance(x, layers.BatchNormalization) for x in qat.layers)
    file = TFLiteModel(to_tflite(qat, str(tmp_path / "v3.tflite"), "int8-full"))
    assert file.input_dtype == np.int8
