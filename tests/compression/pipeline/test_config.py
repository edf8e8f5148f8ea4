"""CompressConfig and load_config: impossible settings, TOML keys as flags."""

from pathlib import Path

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
        ({"quantize": "int2"}, r"Unknown quantization \['int2'\]"),
        ({"freeze_from": 40}, r"freeze_from=40 must lie in \[0, epochs=30\)"),
        ({"model": "lenet"}, r"Unknown model: model='lenet'"),
        ({"prune_sparsity": 0.5, "prune_epochs": 0}, r"needs prune_epochs >= 1"),
        ({"target": 1.0}, r"Expected 0 <= target < 1. Received: target=1.0"),
        (
            {"target": 0.5, "target_unit": "flops"},
            r"Expected target_unit to be one of params, macs, channels. "
            r"Received: target_unit='flops'",
        ),
        (
            {"target": 0.5, "l1": 0, "freeze_from": 30},
            r"freeze_from=30 must lie in \[0, epochs=30\)",
        ),
        (
            {"recipe": "resnet18"},
            r"Unknown recipe: recipe='resnet18'. Expected one of resnet20, "
            r"resnet56, vgg11, mobilenetv2, or '' for Adam.",
        ),
        (
            {"recipe": "resnet20", "finetune_rate": 0.0},
            r"Expected 0 < finetune_rate <= 1. Received: finetune_rate=0.0",
        ),
        (
            {"finetune_rate": 1.0},
            r"finetune_rate=1.0 applies to a recipe's SGD; without recipe, Adam "
            r"fine-tunes at learning_rate.",
        ),
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


def test_the_config_file_in_the_docs_is_valid(tmp_path):
    docs = Path(__file__).parents[3] / "docs" / "compress.md"
    block = docs.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "compress.toml"
    config.write_text(block)
    settings = load_config(config)
    assert settings["target_unit"] == "params"
    assert CompressConfig(**settings).to_dict() == CompressConfig().to_dict()


def test_paths_may_be_given_as_pathlib_paths(tmp_path):
    config = CompressConfig(data=tmp_path / "images")
    assert config.data == str(tmp_path / "images")
    assert config.to_dict()["data"] == str(tmp_path / "images")


def test_fast_marks_half_the_channels_only_without_a_target():
    assert CompressConfig(fast=True).mark_ratio == 0.5
    assert CompressConfig(fast=True, target=0.5).mark_ratio == 0.0
    assert CompressConfig(fast=True, target=0.5, mark_ratio=0.2).mark_ratio == 0.2
