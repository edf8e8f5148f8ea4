"""ChannelGraph: the channels of a concatenation tied to its inputs'."""

import numpy as np
from keras import layers

from kerasreg.compression.surgery import channel_graph as graph_lib
from tests.compression.conftest import concat_model


def test_graph_ties_concat_offsets_and_residuals():
    g = graph_lib.ChannelGraph(concat_model())
    concat = next(c for c in g.calls if isinstance(c.layer, layers.Concatenate))
    out = g.labels[concat.outputs[0]]
    a, b = (g.labels[t] for t in concat.inputs)
    np.testing.assert_array_equal(out[:6], a)
    np.testing.assert_array_equal(out[6:], b)
