import pytest

from ringkernel import LaunchOptions, RingKernel, _native
from rkt import BACKEND


def pytest_configure(config):
    # A GPU run on a machine without that backend reports the whole suite skipped (CTest SKIP_RETURN_CODE 77),
    # never passed: a suite that ran nothing must not look green.
    if BACKEND != "cpu":
        try:
            RingKernel.create_sync(BACKEND).close()
        except _native.NoDeviceError as e:
            pytest.exit(f"SKIP: backend {BACKEND} unavailable: {e}", returncode=77)


def pytest_report_header(config):
    return f"ringkernel backend: {BACKEND} (RK_TEST_BACKEND)"


@pytest.fixture
def rk():
    r = RingKernel.create_sync(BACKEND)
    yield r
    r.close()


@pytest.fixture
def echo(rk):
    return rk.launch_sync("echo", LaunchOptions())
