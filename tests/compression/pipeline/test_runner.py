"""compress: the --fast pipeline end to end, resume, and bad configuration."""

import json
import os

import pytest

from kerasreg import cli
from kerasreg.compression.pipeline import CompressConfig, compress, load_config
from kerasreg.compression.pipeline import stages as _compress_stages

SMALL = {
    "model": "cnn-tiny",
    "epochs": 2,
    "freeze_from": 0,
    "l1": 0.05,
    "finetune_epochs": 1,
    "distill_epochs": 1,
    "quantize": "float32,float16,int8",
}


def test_fast_pipeline_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["compress", "--fast", "--distill-epochs", "1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tflite int8" in printed and "test acc" in printed
    for name in (
        "original.keras",
        "slimmed.keras",
        "shrunk.keras",
        "finetuned.keras",
        "distilled.keras",
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
    assert list(rows)[:5] == ["original", "slim", "shrink", "finetune", "distill"]
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
    assert all(
        r["accuracy"] > 0.3 for k, r in rows.items() if k != "shrink"
    )  # chance 0.1
    summary = metrics["summary"]
    base = rows["tflite original float32"]["size_bytes"]
    assert summary["size_ratio"] == pytest.approx(base / int8["size_bytes"])
    change = 100 * (int8["accuracy"] - rows["original"]["accuracy"])
    assert summary["accuracy_change_points"] == pytest.approx(change)
    assert "smaller than the plainly trained model" in printed
    assert summary["sentence"] in printed
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # size plot, γ, channels, curves
    assert "<table>" in page


def test_resume_after_an_interrupted_stage(tmp_path, monkeypatch):
    out = tmp_path / "run"

    def interrupted(self):
        raise KeyboardInterrupt

    original = _compress_stages.StageRunner._distill
    monkeypatch.setattr(_compress_stages.StageRunner, "_distill", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compress(out, verbose=0, **SMALL)
    state = json.loads((out / "state.json").read_text())
    assert list(state["done"]) == ["original", "slim", "shrink", "finetune"]
    assert not (out / "distilled.keras").exists()
    assert not [p for p in os.listdir(out) if ".tmp" in p]
    stamp = os.path.getmtime(out / "slimmed.keras")

    calls = []

    def counting(self):
        calls.append("distill")
        return original(self)

    monkeypatch.setattr(_compress_stages.StageRunner, "_distill", counting)
    for stage in ("_original", "_slim"):
        monkeypatch.setattr(
            _compress_stages.StageRunner,
            stage,
            lambda self: pytest.fail("a finished stage must not be retrained"),
        )
    result = compress(out, verbose=0, **SMALL)
    assert calls == ["distill"]
    assert os.path.getmtime(out / "slimmed.keras") == stamp
    assert [r["stage"] for r in result["rows"]][:5] == [
        "original",
        "slim",
        "shrink",
        "finetune",
        "distill",
    ]
    rows = {r["stage"]: r for r in result["rows"]}
    # Without marking, shrink removes only frozen channels: same function.
    assert rows["shrink"]["accuracy"] == rows["slim"]["accuracy"]
    # A third run finds everything done and trains nothing.
    monkeypatch.setattr(
        _compress_stages.StageRunner, "_distill", lambda self: pytest.fail("rerun")
    )
    compress(out, verbose=0, **SMALL)


def test_changed_settings_in_the_same_out_are_refused(tmp_path):
    out = tmp_path / "run"
    os.makedirs(out)
    (out / "state.json").write_text(
        json.dumps({"config": {**CompressConfig().to_dict(), "l1": 9.0}, "done": {}})
    )
    with pytest.raises(ValueError, match=r"holds a run with other settings \(l1\)"):
        compress(out, verbose=0)


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
