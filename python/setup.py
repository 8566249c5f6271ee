"""Builds the ringkernel package: the C extension ringkernel._native (CPython C API, C11) linked against the
shared libringkernel that CMake builds, which is copied next to it (rpath $ORIGIN), so the package works from
its build directory and wherever it is installed, with no LD_LIBRARY_PATH.

    RK_BUILD_DIR=../build /usr/bin/python3 setup.py build        # what CMake's python target runs
    /usr/bin/python3 -m pip install --no-build-isolation --no-deps .   # `make python`

RK_BUILD_DIR names the CMake build tree (default: ../build) holding src/libringkernel.so.
"""
import glob
import os
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("RK_BUILD_DIR", os.path.join(ROOT, "build")))
LIBDIR = os.path.join(BUILD, "src")
SONAME = "libringkernel.so.0"


class BuildExtWithLib(build_ext):
    """build_ext that also copies libringkernel.so.0 next to the extension."""

    def run(self):
        lib = os.path.join(LIBDIR, SONAME)
        if not os.path.exists(lib):
            sys.exit(f"setup.py: {lib} not found: build the C library first (make build, or cmake --build "
                     f"{BUILD}), or set RK_BUILD_DIR to the CMake build tree")
        super().run()
        for ext in self.extensions:
            dest = os.path.join(os.path.dirname(self.get_ext_fullpath(ext.name)), SONAME)
            shutil.copy2(os.path.realpath(lib), dest)


sources = sorted(glob.glob(os.path.join("src", "*.c")))

native = Extension(
    "ringkernel._native",
    sources=sources,
    depends=glob.glob(os.path.join("src", "*.h")) + glob.glob(os.path.join(ROOT, "include", "ringkernel", "*.h")),
    include_dirs=[os.path.join(ROOT, "include")],
    library_dirs=[LIBDIR],
    libraries=["ringkernel"],
    runtime_library_dirs=["$ORIGIN"],
    extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers",
                        "-Wno-cast-function-type"],
)

setup(
    name="ringkernel",
    version="0.1.0",
    description="Python bindings of RingKernel: GPU-native persistent actors (CPython C extension)",
    packages=["ringkernel"],
    package_data={"ringkernel": ["*.pyi", "py.typed"]},
    ext_modules=[native],
    cmdclass={"build_ext": BuildExtWithLib},
    python_requires=">=3.9",
    zip_safe=False,
)
