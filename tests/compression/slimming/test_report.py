"""slimming_report: layer widths, totals and plots before and after."""

import numpy as np

from kerasreg import models
from kerasreg.compression import shrink, slimming_report
from kerasreg.compression.slimming import batchnorm_layers


def test_slimming_report_numbers(digits, tmp_path):
    model = models.cnn((8, 8, 1), 10, filters=(8, 16), dense_units=16)
    for bn in batchnorm_layers(model):
        gamma = np.ones(bn.gamma.shape, "float32")
        gamma[: gamma.size // 2] = 0.0
        bn.gamma.assign(gamma)
        bn.beta.assign(-np.ones(bn.beta.shape, "float32"))
    small = shrink(model)
    history = [{"block1_bn": np.abs(np.linspace(-1, 1, 8))}] * 3
    info = slimming_report(
        model, small, data=digits, gamma_history=history, out=tmp_path, repeats=3
    )
    assert info["layers"]["block1_conv"] == [8, 4]
    assert info["layers"]["block2_conv"] == [16, 8]
    assert info["layers"]["fc"] == [16, 8]
    totals = info["totals"]
    assert totals["params"]["after"] == small.count_params()
    assert 0 < totals["flops"]["ratio"] < 0.5
    assert totals["size_bytes"]["after"] < totals["size_bytes"]["before"]
    assert totals["accuracy"]["before"] == totals["accuracy"]["after"]
    for key in ("latency_b1_ms", "latency_b64_ms"):
        assert totals[key]["before"] > 0 and totals[key]["after"] > 0
    for name in ("gamma.png", "channels.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
