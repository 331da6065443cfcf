"""Fixtures for the room suites: a livekit-server per test module, started
on loopback with a generated config and always stopped."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import testbed  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with testbed.LiveKitServer() as s:
        yield s


@pytest.fixture
def build_dir():
    d = os.environ.get("LK_BUILD_DIR")
    if not d:
        pytest.skip("LK_BUILD_DIR is not set (run through ctest)")
    return d


@pytest.fixture
def ours_lib():
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
