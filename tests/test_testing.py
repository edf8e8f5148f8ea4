"""kerasreg.testing: assert_roundtrip's own checks."""

import pytest

from kerasreg import losses
from kerasreg.testing import assert_roundtrip


def test_assert_roundtrip_needs_inputs():
    with pytest.raises(ValueError, match="Received: inputs=None"):
        assert_roundtrip(losses.SparseCategoricalCrossentropy())
