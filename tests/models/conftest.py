"""Shared fixtures for the kerasreg.models tests."""

import pytest

from kerasreg import models


@pytest.fixture(scope="session")
def cifar_model():
    """`build(name, (32, 32, 3), 10, **kwargs)`, each model built once a session.

    Only for tests that read a model's structure or counts, never its
    weights: which test builds a model first decides its random weights.
    """
    cache = {}

    def get(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = models.build(name, (32, 32, 3), 10, **kwargs)
        return cache[key]

    return get
