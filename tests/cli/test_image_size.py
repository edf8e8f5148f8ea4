"""`--image-size`: photos of mixed sizes, or a model that takes another size."""

import json

import keras
import pytest
from PIL import Image

from kerasreg import cli
from kerasreg.compression.pipeline import CompressConfig
from tests.conftest import make_image_folder, make_user_model


@pytest.fixture
def mixed_sizes(tmp_path):
    root = make_image_folder(tmp_path / "photos", classes=2, train=8, test=4)
    Image.new("RGB", (20, 12), (90, 30, 200)).save(
        tmp_path / "photos" / "train" / "class_1" / "wide.png"
    )
    return root


def test_train_resizes_photos_of_mixed_sizes(tmp_path, mixed_sizes, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", mixed_sizes, "--model", "cnn-tiny", "--epochs", "1"]
    assert cli.main([*argv, "--out", str(out)]) == 1
    assert "Images differ in size" in capsys.readouterr().err
    assert cli.main([*argv, "--image-size", "12x10", "--out", str(out)]) == 0
    model = keras.saving.load_model(out / "model.keras")
    assert model.input_shape == (None, 12, 10, 3)
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] >= 0


def test_prune_resizes_the_images_to_the_users_model(tmp_path, mixed_sizes, capsys):
    path = make_user_model(tmp_path / "mine.keras", input_shape=(8, 8, 3), classes=2)
    out = tmp_path / "pruned"
    argv = ["prune", "--model", str(path), "--data", mixed_sizes, "--epochs", "1"]
    assert cli.main([*argv, "--image-size", "16x16", "--out", str(out)]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "Resize the images (load(folder, image_size=(8, 8)), or --image-size 8x8) "
            "or use a model that takes (16, 16, 3)."
        )
    )
    one_step = [*argv, "--image-size", "8", "--out", str(out)]
    assert cli.main(one_step) == 1  # 17 images in one batch of 64
    assert capsys.readouterr().err.strip() == (
        "kerasreg prune: error: prune needs at least 2 training steps to reach "
        "sparsity=0.8; 17 training images in batches of 64 for 1 epoch(s) make 1. "
        "Train more epochs or use a smaller batch size."
    )
    assert cli.main([*one_step, "--batch-size", "8"]) == 0
    assert json.loads((out / "metrics.json").read_text())["sparsity"] == (
        pytest.approx(0.8, abs=0.01)
    )


@pytest.mark.parametrize("text", ["0x8", "8x", "axb", "8x8x3"])
def test_a_bad_image_size_is_refused(tmp_path, capsys, text):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--image-size", text, "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "argument --image-size: Expected an image size HEIGHTxWIDTH such as 32x32. "
            f"Received: image_size={text!r}"
        )
    )
    with pytest.raises(ValueError) as error:
        CompressConfig(image_size=text)
    assert str(error.value) == (
        "Expected an image size HEIGHTxWIDTH such as 32x32. "
        f"Received: image_size={text!r}"
    )
    assert not (tmp_path / "x").exists()


def test_image_size_applies_to_folders_only(tmp_path, capsys):
    assert cli.main(["train", "--image-size", "16x16", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        "kerasreg train: error: image_size= applies to image folders only. "
        "Received: image_size=(16, 16) with source='digits'"
    )
