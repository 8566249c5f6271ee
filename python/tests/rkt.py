"""The backend the suite runs on: RK_TEST_BACKEND (cpu by default; `cuda` on the GPU machine, `vulkan`)."""
import os

BACKEND = os.environ.get("RK_TEST_BACKEND", "cpu")
