import pytest

from ringkernel import LaunchOptions, RingKernel


@pytest.fixture
def rk():
    r = RingKernel.create_sync("cpu")
    yield r
    r.close()


@pytest.fixture
def echo(rk):
    return rk.launch_sync("echo", LaunchOptions())
