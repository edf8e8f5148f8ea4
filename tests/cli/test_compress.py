"""`kerasreg compress`: the --fast pipeline end to end, a bad config file."""

import json
import os

import pytest

from kerasreg import cli
from kerasreg.compression.pipeline import load_config


def test_fast_pipeline_end_to_end(tmp_path, capsys):
    # One run covers distillation and QAT as the last stage (the int8 files
    # then come from the learned ranges, with no representative data).
    out = tmp_path / "run"
    argv = ["compress", "--fast", "--distill-epochs", "1", "--qat-epochs", "1"]
    argv += ["--quantize", "float32,float16,int8,int8-full", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "tflite int8" in printed and "test acc" in printed
    for name in (
        "original.keras",
        "slimmed.keras",
        "shrunk.keras",
        "finetuned.keras",
        "distilled.keras",
        "qat.keras",
        "original_float32.tflite",
        "final_float32.tflite",
        "final_float16.tflite",
        "final_int8.tflite",
        "metrics.json",
        "report.html",
        "state.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in os.listdir(out) if ".tmp" in p]
    metrics = json.loads((out / "metrics.json").read_text())
    rows = {r["stage"]: r for r in metrics["rows"]}
    stages = [name for name in rows if not name.startswith("tflite")]
    assert stages == ["original", "slim", "shrink", "finetune", "distill", "qat"]
    # The reference model trained plainly is the original: same size as slim.
    assert rows["original"]["params"] == rows["slim"]["params"]
    # --fast marks half the channels (coupled γ ranking) so shrink really cuts.
    assert rows["shrink"]["params"] < 0.5 * rows["slim"]["params"]
    assert rows["shrink"]["flops"] < rows["slim"]["flops"]
    int8, f32 = rows["tflite int8"], rows["tflite float32"]
    assert int8["size_bytes"] < 0.6 * f32["size_bytes"]
    assert abs(int8["accuracy"] - f32["accuracy"]) < 0.05
    assert rows["tflite float32"]["accuracy"] == pytest.approx(
        rows["distill"]["accuracy"], abs=0.01
    )
    # BN folded into the convolutions: fewer parameters, same MACs.
    assert rows["qat"]["params"] < rows["distill"]["params"]
    assert rows["qat"]["flops"] == rows["distill"]["flops"]
    # The int8 files run what the QAT model simulates: same test accuracy
    # to within a few of the 360 digits.
    for scheme in ("tflite int8", "tflite int8-full"):
        assert rows[scheme]["accuracy"] == pytest.approx(
            rows["qat"]["accuracy"], abs=0.02
        ), scheme
    assert all(
        r["accuracy"] > 0.3 for k, r in rows.items() if k != "shrink"
    )  # chance 0.1
    summary = metrics["summary"]
    smallest = min(
        ("tflite int8", "tflite int8-full"), key=lambda k: rows[k]["size_bytes"]
    )
    assert summary["stage"] == smallest
    base = rows["tflite original float32"]["size_bytes"]
    assert summary["size_ratio"] == pytest.approx(base / rows[smallest]["size_bytes"])
    change = 100 * (rows[smallest]["accuracy"] - rows["original"]["accuracy"])
    assert summary["accuracy_change_points"] == pytest.approx(change)
    assert "smaller than the plainly trained model" in printed
    assert summary["sentence"] in printed
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # size plot, γ, channels, curves
    assert "<table>" in page


def test_config_file_unknown_keys_and_cli_error(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('model = "cnn"\nepochz = 3\n')
    with pytest.raises(ValueError, match=r"Unknown keys in .*c.toml: epochz"):
        load_config(config)
    out = tmp_path / "out"
    code = cli.main(["compress", "--config", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Unknown keys" in err and err.count("\n") == 1
    assert not (out / "state.json").exists()  # nothing was trained


def test_cli_compress_names_a_toml_key_of_the_wrong_type(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('epochs = "ten"\n')
    code = cli.main(["compress", "--config", str(config), "--out", str(tmp_path / "o")])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "kerasreg compress: error: epochs must be an integer. "
        "Received: epochs='ten' (str)"
    )
