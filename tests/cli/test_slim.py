"""`kerasreg slim` and `kerasreg sweep`."""

import csv
import json

import pytest

from kerasreg import cli


def test_cli_slim_end_to_end(tmp_path, capsys):
    out = tmp_path / "slim"
    code = cli.main(
        [
            "slim",
            "--model",
            "cnn-tiny",
            "--epochs",
            "2",
            "--finetune-epochs",
            "1",
            "--l1",
            "0.05",
            "--freeze-from",
            "0",
            "--prune-ratio",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "params" in printed and "latency_b64_ms" in printed
    info = json.loads((out / "report.json").read_text())
    params = info["totals"]["params"]
    assert params["before"] == 1970  # cnn-tiny
    assert params["after"] < params["before"]  # half the channels are marked
    import keras

    shrunk = keras.saving.load_model(out / "shrunk.keras")
    assert shrunk.count_params() == params["after"]
    for name in (
        "model.keras",
        "shrunk.keras",
        "gamma.png",
        "channels.png",
        "curves.png",
    ):
        assert (out / name).stat().st_size > 0


def test_cli_sweep_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = cli.main(
        [
            "sweep",
            "--model",
            "cnn-tiny",
            "--l1",
            "0.1,0",
            "--epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--freeze-from",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["l1"] for r in rows] == ["baseline", "0.1", "0.0"]
    assert float(rows[0]["param_reduction_pct"]) == 0.0
    # Two epochs of cnn-tiny on digits reach about 0.8; chance is 0.1.
    assert all(float(r["accuracy"]) > 0.5 for r in rows)
    assert int(rows[0]["params"]) == 1970  # cnn-tiny, unslimmed
    for r in rows:
        reduction = 100 * (1 - int(r["params"]) / 1970)
        assert float(r["param_reduction_pct"]) == pytest.approx(reduction, abs=0.01)
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_sweep_rejects_negative_lambda(tmp_path, capsys):
    code = cli.main(
        ["sweep", "--model", "cnn-tiny", "--l1", "0.1,-1", "--out", str(tmp_path)]
    )
    assert code == 1
    assert "Expected every l1 >= 0. Received: l1=-1.0" in capsys.readouterr().err


def test_cli_slim_to_a_target(tmp_path, capsys):
    out = tmp_path / "target"
    code = cli.main(
        [
            "slim",
            "--model",
            "cnn-tiny",
            "--epochs",
            "3",
            "--finetune-epochs",
            "1",
            "--target",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    params = json.loads((out / "report.json").read_text())["totals"]["params"]
    assert params["before"] == 1970
    assert params["after"] <= 0.5 * 1970


def test_cli_slim_refuses_l1_with_target(tmp_path, capsys):
    code = cli.main(
        [
            "slim",
            "--model",
            "cnn-tiny",
            "--l1",
            "0.1",
            "--target",
            "0.5",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "kerasreg slim: error: give --l1 or --target, not both"
    )


@pytest.mark.parametrize(
    "model, rate, initial", [("resnet20", None, 0.01), ("cnn-tiny", "1.0", 0.1)]
)
def test_cli_slim_with_a_recipe(tmp_path, capsys, model, rate, initial):
    out = tmp_path / "recipe"
    images = tmp_path / "images"
    from tests.conftest import make_image_folder

    make_image_folder(images, classes=3, train=16, test=6, size=(32, 32))
    code = cli.main(
        [
            "slim",
            "--model",
            model,
            "--data",
            str(images),
            "--recipe",
            "resnet20",
            "--epochs",
            "2",
            "--finetune-epochs",
            "1",
            "--target",
            "0.3",
            "--out",
            str(out),
            *(["--finetune-rate", rate] if rate else []),
        ]
    )
    assert code == 0
    import keras

    # Fine-tuned with the recipe's SGD at a tenth of its 0.1, or rewound.
    optimizer = keras.saving.load_model(out / "shrunk.keras").optimizer
    schedule = optimizer.get_config()["learning_rate"]["config"]
    assert type(optimizer).__name__ == "SGD"
    assert schedule["initial_learning_rate"] == pytest.approx(initial)

    trained = keras.saving.load_model(out / "model.keras")
    # The recipe's coupled weight decay is on the convolutions.
    first = trained.get_layer("stem_conv" if model == "resnet20" else "block1_conv")
    assert first.kernel_regularizer.l2 == 0.00025
    params = json.loads((out / "report.json").read_text())["totals"]["params"]
    assert params["after"] <= 0.7 * params["before"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["slim", "--finetune-rate", "1.0"],
            "kerasreg slim: error: finetune_rate=1.0 applies to a recipe's SGD; "
            "without recipe, Adam fine-tunes at learning_rate.",
        ),
        (
            ["sweep", "--recipe", "resnet20", "--finetune-rate", "0"],
            "kerasreg sweep: error: Expected 0 < finetune_rate <= 1. "
            "Received: finetune_rate=0.0",
        ),
    ],
)
def test_cli_slim_and_sweep_refuse_a_bad_finetune_rate(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert cli.main([*argv, "--model", "cnn-tiny", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == message
    assert not out.exists()  # refused before anything is trained or written
