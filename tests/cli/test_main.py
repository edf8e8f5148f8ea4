"""The `kerasreg` command as a whole: --version, --help, every error path."""

import pytest

from kerasreg import cli
from tests.cli.conftest import run_cli


def test_version_and_help():
    from kerasreg import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"kerasreg {__version__}"
    result = run_cli("--help")
    assert result.returncode == 0 and "train" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--data", "nope", "--model", "cnn"],
            "Unknown data source: source='nope'",
        ),
        (["train", "--model", "lenet"], "unknown model 'lenet'"),
        (
            ["train", "--epochs", "0", "--model", "cnn"],
            "Expected epochs >= 1. Received: epochs=0",
        ),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    code = cli.main([*args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("kerasreg train: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = cli.main(["train", "--model", "cnn", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == 1 and "Cannot create the output directory" in err
    assert err.count("\n") == 1


def test_bad_flag_exits_2_without_traceback():
    result = run_cli("train", "--epochs", "ten", "--out", "x")
    assert result.returncode == 2
    assert (
        "invalid int value: 'ten'" in result.stderr and "Traceback" not in result.stderr
    )
