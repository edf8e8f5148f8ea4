"""kerasreg._layer_tree: rebuilding a model with some layers replaced."""

import keras
import pytest

from kerasreg import layers as L


def test_replace_layers_rejects_subclassed_models():
    class Plain(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="model=Plain"):
        L.replace_layers(Plain(), lambda layer: None)
