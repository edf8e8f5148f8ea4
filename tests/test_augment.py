"""augment.pipeline and the label-safety check, on digits and generated images."""

import keras
import numpy as np
import pytest

import kerasreg
from kerasreg import augment, cli, label_safety, training


@pytest.fixture(scope="module")
def digits():
    return kerasreg.load("digits")


@pytest.fixture(scope="module")
def plain_model(digits):
    """`cnn` trained on digits without augmentation (99% test accuracy)."""
    return training.train("cnn", digits, epochs=15, verbose=0).model


@pytest.fixture(scope="module")
def report(digits, plain_model):
    names = ["rotate180", "flip_vertical", "scale", "elastic"]
    # Simard's distortion scaled to 8x8 (alpha 2.8) costs digits 18 points
    # and is flagged (8->1, 2->1); alpha 1 is the gentle, label-safe kind.
    pipe = augment.pipeline(names, data=digits, model=plain_model, elastic_alpha=1.0)
    return label_safety.check_label_safety(pipe, digits, plain_model)


def test_every_transform_is_seeded_and_reproducible():
    images = np.random.default_rng(0).random((8, 32, 32, 3)).astype("float32")
    for name in augment.TRANSFORMS:
        a = augment.pipeline([name], seed=3)(images)
        b = augment.pipeline([name], seed=3)(images)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        assert tuple(a.shape) == images.shape
        if name != "flip_vertical":  # some 8-image batches may flip none
            assert not np.allclose(np.asarray(a), images), name
    a = augment.pipeline(["crop", "erasing"], seed=1)(images)
    b = augment.pipeline(["crop", "erasing"], seed=2)(images)
    assert not np.allclose(np.asarray(a), np.asarray(b))


def test_rotate180_turns_every_image_half_a_round():
    images = np.arange(2 * 8 * 8, dtype="float32").reshape(2, 8, 8, 1)
    turned = np.asarray(augment.pipeline(["rotate180"], image_size=(8, 8))(images))
    np.testing.assert_allclose(turned, images[:, ::-1, ::-1, :], atol=1e-4)


def test_as_layers_is_a_model_part_that_is_identity_at_inference():
    layers = augment.pipeline(["flip_horizontal", "crop", "cutout"], as_layers=True)
    assert isinstance(layers, keras.Sequential)
    assert [layer.name for layer in layers.layers] == [
        "flip_horizontal",
        "crop",
        "cutout",
    ]
    images = np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layers(images, training=False)), images)


def test_pipeline_reads_image_size_and_range_from_data_and_model(digits, plain_model):
    pipe = augment.pipeline(["crop", "erasing"], data=digits, model=plain_model)
    assert pipe.options["image_size"] == (8, 8)
    assert pipe.options["value_range"] == (0.0, 1.0)
    rescaling = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
        ]
    )
    assert augment.pipeline([], data=digits, model=rescaling).options[
        "value_range"
    ] == (0.0, 255.0)


def test_training_through_the_input_pipeline(digits):
    model = training.compile_model(kerasreg.models.build("cnn-tiny", (8, 8, 1), 10))
    pipe = augment.pipeline(["scale", "rotate"], data=digits, model=model)
    history = training.fit(model, digits, epochs=2, augment=pipe)
    assert history["loss"][1] < history["loss"][0]


def test_rotation_and_vertical_flip_are_flagged_on_digits(report):
    assert report.flagged == ["rotate180", "flip_vertical"]
    rotated = report["rotate180"]
    pairs = {(a, b) for a, b, _, _ in rotated.pairs}
    assert ("6", "9") in pairs and ("9", "6") in pairs
    assert rotated.drop > 0.3
    # The safe ones keep accuracy within 5 points and move no class.
    for name in ("scale", "elastic"):
        assert report[name].pairs == [] and report[name].drop < 0.05, name
    assert "rotate180" in report.table() and "FLAGGED 6→9" in report.table()


def test_check_refuses_a_flagged_transform_unless_allowed(digits, plain_model):
    with pytest.raises(ValueError) as error:
        augment.pipeline(
            ["scale", "rotate180"], data=digits, model=plain_model, check=True
        )
    message = str(error.value)
    assert message.startswith("'rotate180' changes labels on this data: 6→9 (")
    assert message.endswith("Drop it, or keep it with allow=('rotate180',).")
    kept = augment.pipeline(
        ["scale", "rotate180"],
        data=digits,
        model=plain_model,
        check=True,
        allow=("rotate180",),
    )
    assert kept.transforms == ("scale", "rotate180")


def test_bad_arguments_name_themselves(digits, plain_model):
    with pytest.raises(
        ValueError,
        match=r"^Unknown transform 'mixup'\. Expected names from: flip_horizontal, ",
    ):
        augment.pipeline(["flip_horizontal", "mixup"])
    with pytest.raises(ValueError, match="check=True needs data= and model="):
        augment.pipeline(["scale"], check=True)
    pipe = augment.pipeline(["scale"], image_size=(8, 8))
    for key, value in (("pair_threshold", 1.5), ("min_kept", 0.0)):
        with pytest.raises(
            ValueError, match=rf"^Expected 0 < {key} < 1\. Received: {key}={value}$"
        ):
            label_safety.check_label_safety(pipe, digits, plain_model, **{key: value})


def test_cli_augment_check(tmp_path, capsys, plain_model):
    model_path = tmp_path / "plain.keras"
    plain_model.save(model_path)
    argv = ["augment-check", "--model", str(model_path), "--out", str(tmp_path)]
    assert cli.main([*argv, "--transforms", "rotate180,scale"]) == 0
    out = capsys.readouterr().out
    assert "rotate180" in out and "FLAGGED 6→9" in out
    import json

    saved = json.loads((tmp_path / "label_safety.json").read_text())
    assert saved["rotate180"]["flagged"] and not saved["scale"]["flagged"]
    assert cli.main([*argv, "--transforms", "mixup"]) == 1
    assert "Unknown transform 'mixup'" in capsys.readouterr().err


def test_elastic_distortion_moves_pixels_independently_along_each_axis():
    images = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
    fields = []
    for axis in (1, 2):
        ramp = np.broadcast_to(
            np.arange(28, dtype="float32").reshape(
                (1, 28, 1, 1) if axis == 1 else (1, 1, 28, 1)
            ),
            images.shape,
        )
        # Bilinear sampling of a linear ramp gives back the sampled coordinate.
        layer = augment.ElasticDistortion(alpha=34.0, sigma=4.0, seed=0)
        moved = np.asarray(layer(np.ascontiguousarray(ramp), training=True))
        fields.append((moved - ramp)[:, 6:22, 6:22, 0])
    dy, dx = fields
    assert 0.5 < dy.std() < 3.0 and 0.5 < dx.std() < 3.0  # about a pixel or two
    assert abs(np.corrcoef(dy.ravel(), dx.ravel())[0, 1]) < 0.2  # not one field
    np.testing.assert_array_equal(np.asarray(layer(images)), images)


def test_elastic_defaults_follow_simard_scaled_to_the_image():
    full = augment.pipeline(["elastic"], image_size=(28, 28)).layers[0]
    assert (full.alpha, full.sigma) == (34.0, 4.0)
    small = augment.pipeline(["elastic"], image_size=(8, 8)).layers[0]
    assert small.alpha == pytest.approx(
        34 * (8 / 28) ** 2
    ) and small.sigma == pytest.approx(32 / 28)
    kept = augment.pipeline(["elastic"], elastic_alpha=10.0, elastic_sigma=2.0).layers[
        0
    ]
    assert (kept.alpha, kept.sigma) == (10.0, 2.0)
    with pytest.raises(ValueError, match="Expected sigma > 0. Received: sigma=0"):
        augment.ElasticDistortion(sigma=0)


def test_elastic_distortion_round_trips():
    from kerasreg.testing import assert_roundtrip

    assert_roundtrip(
        augment.ElasticDistortion(20.0, 3.0, seed=1), np.ones((2, 12, 12, 1))
    )


def test_the_skill_kept_is_measured_above_chance():
    # CIFAR-10's unaugmented resnet20 under a 4-pixel crop: 11 points lost,
    # 78% of its skill above chance kept, so crop passes at min_kept=0.5.
    crop = label_safety.TransformSafety("crop", 0.5964, 0.4848, [], False, 0.1)
    assert crop.kept == pytest.approx((0.4848 - 0.1) / (0.5964 - 0.1))
    assert round(crop.kept, 2) == 0.78
    gone = label_safety.TransformSafety("blackout", 0.9, 0.1, [], True, 0.1)
    assert gone.kept == pytest.approx(0.0)
    report = label_safety.LabelSafetyReport([crop, gone])
    assert report.refusal(["blackout"]).startswith(
        "'blackout' changes labels on this data: accuracy drops 80.0 points, "
        "keeping 0% of its skill above chance."
    )
    assert "  78%  ok" in report.table()
