"""Shared fixtures of the tests (the TensorFlow set-up is in ../conftest.py)."""

import os

import pytest

MNIST_PATH = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist", "mnist.npz"
)


@pytest.fixture(scope="session")
def digits():
    """The bundled digits dataset, loaded once per session."""
    from kerasreg import data

    return data.load("digits")
