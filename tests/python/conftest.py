import pytest

import lkffi


@pytest.fixture(scope="module")
def lib():
    """The built library, initialized once per test module."""
    return lkffi.Library()
