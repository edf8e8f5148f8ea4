"""plan_shrink: the channels per layer before and after a shrink."""

from kerasreg import models
from kerasreg.compression.surgery import plan_shrink
from tests.compression.surgery.conftest import kill_channels


def test_plan_reports_channels_per_layer():
    model = models.cnn((8, 8, 1), 10, filters=(8, 8), dense_units=0)
    kill_channels(model, 0.5)
    channels = plan_shrink(model).channels()
    assert channels["block1_conv"][0] == 8
    assert channels["block1_conv"][1] < 8
