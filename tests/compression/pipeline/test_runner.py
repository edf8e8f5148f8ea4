"""compress: resume after an interrupted stage, refuse changed settings."""

import json
import os

import pytest

from kerasreg.compression.pipeline import CompressConfig, compress
from kerasreg.compression.pipeline import stages as _compress_stages
from kerasreg.compression.pipeline.runner import _State

SMALL = {
    "model": "cnn-tiny",
    "epochs": 2,
    "freeze_from": 0,
    "l1": 0.05,
    "finetune_epochs": 1,
    "distill_epochs": 1,
    "quantize": "float32,float16,int8",
}


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


def test_a_run_made_before_a_field_existed_resumes(tmp_path):
    out = tmp_path / "run"
    os.makedirs(out)
    saved = CompressConfig().to_dict()
    del saved["target"], saved["target_unit"]  # fields added later
    state = {"config": saved, "done": {"original": {}}}
    (out / "state.json").write_text(json.dumps(state))
    assert _State(out, CompressConfig(), restart=False).done == {"original": {}}
    with pytest.raises(ValueError, match=r"other settings \(target\)"):
        _State(out, CompressConfig(target=0.5), restart=False)


def test_target_mode_removes_the_fraction_asked_for(tmp_path):
    result = compress(
        tmp_path / "run",
        verbose=0,
        model="cnn-tiny",
        epochs=3,
        freeze_from=2,
        target=0.5,
        finetune_epochs=1,
        quantize="float32",
    )
    rows = {r["stage"]: r for r in result["rows"]}
    removed = 1 - rows["shrink"]["params"] / rows["original"]["params"]
    assert 0.5 <= removed < 0.6
    # The channels are dead before shrink removes them: same function.
    assert rows["shrink"]["accuracy"] == rows["slim"]["accuracy"]
    assert result["config"]["target"] == 0.5


def test_a_recipe_trains_every_stage_with_sgd_and_augmentation(tmp_path, monkeypatch):
    import keras

    from kerasreg.saving import load_model

    seen = []

    def recording(model, dataset, **kwargs):
        seen.append(
            (
                type(model.optimizer).__name__,
                kwargs["batch_size"],
                kwargs.get("augment") is not None,
                float(model.optimizer.learning_rate),  # at step 0
            )
        )
        return fit(model, dataset, **kwargs)

    fit = _compress_stages.fit
    monkeypatch.setattr(_compress_stages, "fit", recording)
    compress(
        tmp_path / "run",
        verbose=0,
        model="cnn-tiny",
        epochs=2,
        freeze_from=1,
        target=0.5,
        finetune_epochs=1,
        finetune_rate=0.5,
        recipe="vgg11",
        learning_rate=0.5,  # Adam's rate: unused with a recipe
        quantize="float32",
    )
    # original, slim and finetune: the recipe's SGD, batch 128 and crop+flip;
    # vgg11's rate starts at 0 (warm-up), the fine-tune at half of its 0.1.
    rates = [round(rate, 6) for *_, rate in seen]
    assert [settings for *settings, _ in seen] == [["SGD", 128, True]] * 3
    assert rates == [0.0, 0.0, 0.05]
    finetuned = load_model(tmp_path / "run" / "finetuned.keras", compile=False)
    convs = [x for x in finetuned.layers if isinstance(x, keras.layers.Conv2D)]
    assert convs and all(x.kernel_regularizer.l2 == 2.5e-4 for x in convs)
