"""`sweep` keeps each finished run and resumes a stopped grid."""

import json

import pytest

from kerasreg.compression.slimming import workflow

SETTINGS = dict(epochs=1, finetune_epochs=1, freeze_from_epoch=0, seed=0)


def _refuse_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kept run was trained again")

    monkeypatch.setattr(workflow, "slim", refuse)
    monkeypatch.setattr(workflow, "_fit", refuse)


def test_a_sweep_resumes_from_its_kept_runs(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    first = workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **SETTINGS)
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "0.1.json",
        "baseline.json",
    ]
    kept = json.loads((out / "runs" / "0.1.json").read_text())
    assert kept["settings"]["epochs"] == 1
    assert kept["row"]["accuracy"] == first[1]["accuracy"]

    # The same call again trains nothing and returns the same rows.
    _refuse_training(monkeypatch)
    again = workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **SETTINGS)
    assert again == first


def test_a_grown_grid_trains_only_the_new_lambda(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    first = workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **SETTINGS)
    calls = []
    slim = workflow.slim

    def counting_slim(*args, **kwargs):
        calls.append(kwargs["l1"])
        return slim(*args, **kwargs)

    monkeypatch.setattr(workflow, "slim", counting_slim)
    rows = workflow.sweep([0.1, 0.0], "cnn-tiny", "digits", out=out, **SETTINGS)
    assert calls == [0.0]
    assert rows[:2] == first
    assert [r["l1"] for r in rows] == ["baseline", 0.1, 0.0]
    # λ = 0 never drives γ to zero: nothing is removed.
    assert rows[2]["param_reduction_pct"] == 0.0


def test_kept_runs_of_other_settings_are_refused(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **SETTINGS)
    _refuse_training(monkeypatch)
    with pytest.raises(ValueError, match=r"baseline\.json was made with other "):
        workflow.sweep(
            [0.1], "cnn-tiny", "digits", out=out, **{**SETTINGS, "epochs": 2}
        )


def test_a_loaded_folder_is_known_by_its_path_and_size(tmp_path):
    from kerasreg import data
    from tests.conftest import make_image_folder

    first = make_image_folder(tmp_path / "a", classes=2, train=4, test=2)
    second = make_image_folder(tmp_path / "b", classes=2, train=4, test=2)

    def described(root, size):
        dataset = data.load(root, image_size=size)
        run = {"recipe": None}
        return workflow._settings("cnn-tiny", dataset, dataset, run)["data"]

    assert described(first, (8, 8)) == f"{tmp_path / 'a'} at (8, 8, 3)"
    assert described(first, (8, 8)) != described(second, (8, 8))
    assert described(first, (8, 8)) != described(first, (12, 12))


def test_kept_runs_of_another_finetune_rate_are_refused(tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    recipe = {**SETTINGS, "recipe": "resnet20"}
    workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **recipe)
    _refuse_training(monkeypatch)
    workflow.sweep([0.1], "cnn-tiny", "digits", out=out, **recipe, finetune_rate=0.1)
    with pytest.raises(ValueError, match=r"baseline\.json was made with other "):
        workflow.sweep(
            [0.1],
            "cnn-tiny",
            "digits",
            out=out,
            finetune_rate=1.0,
            **recipe,
        )
