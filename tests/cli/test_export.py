"""`kerasreg export`: a trained model, a user model on a folder, a corrupt file."""

from kerasreg import cli
from tests.cli.conftest import run_cli


def test_cli_export(trained, tmp_path, capsys):
    from kerasreg import cli

    path = str(tmp_path / "model.keras")
    trained.save(path)
    out = tmp_path / "m.tflite"
    argv = ["export", "--model", path, "--quantize", "dynamic", "--no-compare"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert out.read_bytes()[4:8] == b"TFL3"
    assert f"Saved {out} (dynamic)" in capsys.readouterr().out
    missing = str(tmp_path / "missing.keras")
    assert cli.main(["export", "--model", missing, "--out", str(out)]) == 1
    assert "missing.keras" in capsys.readouterr().err


def test_cli_export_of_a_user_model_on_a_folder_is_quiet(
    tmp_path, user_model, image_folder
):
    target = tmp_path / "my_model.tflite"
    result = run_cli(
        "export",
        "--model",
        user_model,
        "--data",
        image_folder,
        "--quantize",
        "int8",
        "--no-compare",
        "--out",
        str(target),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert target.stat().st_size > 0
    assert f"Saved {target} (int8)" in result.stdout
    chatter = ("fully_quantize", "XNNPACK", "cuInit", "inference_type")
    assert not [c for c in chatter if c in result.stdout + result.stderr]


def test_cli_export_refuses_a_corrupt_keras_file(tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    code = cli.main(
        ["export", "--model", str(broken), "--out", str(tmp_path / "m.tflite")]
    )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"kerasreg export: error: {broken} is not a readable .keras model: it is "
        "not a Keras v3 archive (a zip file), so it is corrupt, truncated or "
        "another format."
    )
    assert not (tmp_path / "m.tflite").exists()
