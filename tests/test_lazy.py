"""kerasreg/_lazy.py: every documented name resolves, and to the same object twice."""

import importlib
import subprocess
import sys

import pytest

# Every public name of docs/index.md, at its documented import path.
DOCUMENTED = {
    "kerasreg": [
        "load", "validation_split", "train", "load_model", "initializer_for",
        "reinitialize", "activation_stats", "regularize", "regularize_activity",
        "ParameterTying", "DropConnectDense", "DropConnectConv2D", "WeightNoise",
        "norm_layer", "convert_normalization", "EarlyStopping", "tune",
        "CoarseToFine", "NetworkSlimming", "shrink", "slimming_report",
        "Distiller", "distill", "MagnitudePruning", "strip_pruning",
        "prune_filters", "to_tflite", "TFLiteModel", "compare_exports", "compress",
        "pseudo_label", "multitask",
    ],
    "kerasreg.data": ["load", "Dataset", "validation_split"],
    "kerasreg.models": [
        "cnn", "vgg", "resnet", "resnet50", "build", "MODELS",
        "resnet20", "resnet56", "vgg11", "mobilenetv2", "denoising_autoencoder",
    ],
    "kerasreg.report": [
        "count_params", "count_flops", "saved_size", "measure_latency",
        "format_table", "print_table", "plot_curves", "plot_images",
    ],
    "kerasreg.metrics": ["count_params", "count_flops", "saved_size", "measure_latency"],
    "kerasreg.training": ["compile_model", "evaluate_accuracy", "train", "fit"],
    "kerasreg.compression": [
        "NetworkSlimming", "mark_channels", "shrink", "ChannelGraph",
        "slimming_report", "slim", "sweep", "Distiller", "distillation_loss",
        "distill", "ConstantSparsity", "PolynomialDecay", "MagnitudePruning",
        "strip_pruning", "kernel_sparsity", "prune_filters", "to_tflite",
        "TFLiteModel", "compare_exports", "compress", "CompressConfig",
        "load_config", "quantize_aware", "calibrate", "qat",
    ],
    "kerasreg.compression.quantization": [
        "quantize_aware", "ActivationQuantizer", "QuantizedConv2D", "fold_batchnorm",
    ],
    "kerasreg.semi_supervised": ["pseudo_label"],
    "kerasreg.multi_task": ["multitask", "LabelledAccuracy", "MISSING"],
    "kerasreg.noise": ["noise_layer", "MaskingNoise", "SaltAndPepperNoise"],
    "kerasreg.compression.surgery": ["plan_shrink", "shrink", "ChannelGraph"],
    "kerasreg.initializers": [
        "initializer_for", "reinitialize", "activation_stats",
        "plot_activation_histograms",
    ],
    "kerasreg.regularizers": ["regularize", "regularize_activity", "ParameterTying"],
    "kerasreg.layers": [
        "DropConnectDense", "DropConnectConv2D", "WeightNoise", "norm_layer",
        "convert_normalization",
    ],
    "kerasreg.losses": ["SparseCategoricalCrossentropy"],
    "kerasreg.callbacks": ["EarlyStopping"],
    "kerasreg.tuning": ["tune", "CoarseToFine"],
    "kerasreg.distribute": [
        "strategy", "synchronize_batchnorm", "AsyncTrainer", "LocalCluster",
        "split_model", "read_tf_config", "launch", "WorkerError", "is_chief",
    ],
    "kerasreg.ensemble": ["Bagging", "AdaBoost", "samme_update"],
    "kerasreg.augment": ["pipeline", "check_label_safety", "TRANSFORMS", "ElasticDistortion"],
}  # fmt: skip

CASES = [(module, name) for module, names in DOCUMENTED.items() for name in names]


@pytest.mark.parametrize("module, name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_documented_name_is_one_object(module, name):
    first = getattr(importlib.import_module(module), name)
    second = getattr(importlib.import_module(module), name)
    namespace = {}
    exec(f"from {module} import {name} as third", namespace)
    assert first is second is namespace["third"]
    assert not isinstance(first, type(sys)), f"{module}.{name} is a module"


def test_every_public_name_of_every_package_resolves():
    for package in (
        "kerasreg",
        "kerasreg.compression",
        "kerasreg.compression.slimming",
        "kerasreg.compression.surgery",
        "kerasreg.compression.pruning",
        "kerasreg.compression.distillation",
        "kerasreg.compression.export",
        "kerasreg.compression.pipeline",
        "kerasreg.tuning",
        "kerasreg.distribute",
        "kerasreg.ensemble",
    ):
        module = importlib.import_module(package)
        for name in module.__all__:
            assert getattr(module, name) is getattr(module, name), f"{package}.{name}"
        assert sorted(dir(module)) == sorted(set(module.__all__) - {"__version__"})


def test_the_function_stays_a_function_in_a_fresh_process():
    # The loader bug: the second access found the submodule `compress`.
    code = (
        "import kerasreg, types\n"
        "a = kerasreg.compress\n"
        "b = kerasreg.compress\n"
        "import kerasreg.compression.pipeline.runner\n"
        "c = kerasreg.compression.compress\n"
        "assert a is b is c and callable(a) and not isinstance(a, types.ModuleType)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_import_kerasreg_loads_no_tensorflow():
    code = "import sys, kerasreg, kerasreg.cli; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_unknown_name_is_an_attribute_error():
    import kerasreg

    with pytest.raises(
        AttributeError, match="module 'kerasreg' has no attribute 'nope'"
    ):
        kerasreg.nope  # noqa: B018


def test_a_name_listed_twice_is_refused():
    from kerasreg import _lazy

    with pytest.raises(
        ValueError, match=r"listed both as a name and a submodule: \['x'\]"
    ):
        _lazy.attach("kerasreg", {"x": "data"}, ("x",))
