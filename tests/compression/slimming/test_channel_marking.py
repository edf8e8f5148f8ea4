"""mark_channels: a global ratio under a per-layer cap, coupled ranking."""

import keras
import numpy as np

from kerasreg.compression.slimming import batchnorm_layers, mark_channels
from tests.compression.slimming.conftest import tiny_cnn


def test_mark_channels_global_ratio_with_layer_cap():
    model = tiny_cnn()
    bns = batchnorm_layers(model)
    # block1_bn holds the 8 smallest γ overall.
    bns[0].gamma.assign(np.linspace(0.01, 0.08, 8).astype("float32"))
    bns[1].gamma.assign(np.linspace(1.0, 2.0, 8).astype("float32"))
    bns[2].gamma.assign(np.linspace(1.0, 2.0, 8).astype("float32"))
    counts = mark_channels(model, prune_ratio=8 / 24, max_per_layer=0.5)
    assert counts == {"block1_bn": 4, "block2_bn": 0, "fc_bn": 0}
    assert np.all(bns[0].gamma.numpy()[:4] == 0) and np.all(
        bns[0].beta.numpy()[:4] == 0
    )
    assert np.all(bns[0].gamma.numpy()[4:] > 0)
    # All 8 of block1_bn are now below 1.5, but the default cap keeps one.
    counts = mark_channels(model, threshold=1.5)
    assert counts == {"block1_bn": 7, "block2_bn": 4, "fc_bn": 4}


def test_mark_channels_coupled_ranks_by_the_whole_class():
    from kerasreg.compression import shrink
    from tests.compression.conftest import residual_model

    model = residual_model()
    stem, a2 = model.get_layer("stem_bn"), model.get_layer("a2_bn")
    # Stream channel 0 is tiny in stem_bn but large in a2_bn: it is needed.
    stem.gamma.assign(np.r_[1e-3, np.ones(7)].astype("float32"))
    a2.gamma.assign(np.r_[5.0, np.ones(7)].astype("float32"))
    plain = keras.models.clone_model(model)
    plain.set_weights(model.get_weights())
    assert mark_channels(plain, threshold=1e-2)["stem_bn"] == 1
    # Per-BN marking zeroes one BN of the stream only: shrink cannot remove it.
    assert shrink(plain).get_layer("stem_conv").filters == 8
    assert mark_channels(model, threshold=1e-2, coupled=True)["stem_bn"] == 0
    # A channel small in every coupled BN is marked in all of them and removed.
    stem.gamma.assign(np.r_[1e-3, np.ones(7)].astype("float32"))
    a2.gamma.assign(np.r_[2e-3, np.ones(7)].astype("float32"))
    counts = mark_channels(model, threshold=1e-2, coupled=True)
    assert counts["stem_bn"] == 1 and counts["a2_bn"] == 1
    assert shrink(model).get_layer("stem_conv").filters == 7
