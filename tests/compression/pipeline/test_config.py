"""CompressConfig and load_config: impossible settings, TOML keys as flags."""

import pytest

from kerasreg.compression.pipeline import CompressConfig, load_config


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"prune_sparsity": 1.0},
            r"Expected 0 <= prune_sparsity < 1. Received: prune_sparsity=1.0",
        ),
        (
            {"student": "cnn-tiny", "distill_epochs": 0},
            r"is a fresh model and needs distill_epochs >= 1",
        ),
        ({"quantize": "int4"}, r"Unknown quantization \['int4'\]"),
        ({"freeze_from": 40}, r"freeze_from=40 must lie in \[0, epochs=30\)"),
        ({"model": "lenet"}, r"Unknown model: model='lenet'"),
        ({"prune_sparsity": 0.5, "prune_epochs": 0}, r"needs prune_epochs >= 1"),
        (
            {"mark_ratio": 1.0},
            r"Expected 0 <= mark_ratio < 1. Received: mark_ratio=1.0",
        ),
    ],
)
def test_impossible_settings_fail_before_training(settings, message):
    with pytest.raises(ValueError, match=message):
        CompressConfig(**settings)


def test_config_file_keys_match_flags(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        'model = "cnn-tiny"\nfinetune-epochs = 3\nquantize = "float32,int8"\n'
    )
    settings = load_config(config)
    assert settings == {
        "model": "cnn-tiny",
        "finetune_epochs": 3,
        "quantize": "float32,int8",
    }
    assert CompressConfig(**settings).quantize == ("float32", "int8")
