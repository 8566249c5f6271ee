#!/usr/bin/env bash
# install_test.sh <srcdir> <builddir> - installs the build into a temporary prefix and builds a program
# outside the tree against it three ways, running each (and checks the headers compile as C++):
#   1. pkg-config, shared library (rpath into the prefix)
#   2. pkg-config --static, a fully static executable
#   3. CMake find_package(ringkernel) through CMAKE_PREFIX_PATH (static and shared targets)
# Exit 0 only if every build runs and prints OK. The consumer is tests/install/consumer/.
set -euo pipefail

src=$(cd "${1:?usage: install_test.sh <srcdir> <builddir>}" && pwd)
build=$(cd "${2:?usage: install_test.sh <srcdir> <builddir>}" && pwd)
consumer=$src/tests/install/consumer
cc=${CC:-cc}
cflags=(-std=c11 -pedantic -Wall -Wextra -Werror)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rk-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

die() { echo "install_test: $*" >&2; exit 1; }
step() { echo "install_test: $*"; }

# run <what> <program>: runs a consumer, which must print exactly OK.
run() {
    local out
    out=$("$2" 2>&1) || die "$1: the program failed: $out"
    [ "$out" = OK ] || die "$1: expected OK, got: $out"
    step "$1: OK"
}

step "installing $build into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; die "cmake --install failed"; }

pc=$(find "$prefix" -name ringkernel.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "no ringkernel.pc installed"
for f in include/ringkernel/ringkernel.h include/ringkernel/abi.h bin/ringkernel; do
    [ -e "$prefix/$f" ] || die "missing $f"
done
libdir=$(dirname "$(dirname "$pc")")
for f in libringkernel.a libringkernel.so cmake/ringkernel/ringkernelConfig.cmake \
         cmake/ringkernel/ringkernelConfigVersion.cmake cmake/ringkernel/ringkernelTargets.cmake; do
    [ -e "$libdir/$f" ] || die "missing ${libdir#"$prefix"/}/$f"
done
"$prefix/bin/ringkernel" --version >/dev/null || die "the installed CLI does not run"

export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR= PKG_CONFIG_LIBDIR=$(dirname "$pc")
pkg-config --exists --print-errors ringkernel || die "pkg-config cannot read $pc"
[ "$(pkg-config --variable=libdir ringkernel)" = "$libdir" ] || die "ringkernel.pc: libdir is not $libdir"

# 0. The installed headers compile as C++ too (the ABI header is shared with nvcc; C++ hosts include them).
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1; then
    printf '#include <ringkernel/ringkernel.h>\nint main() { return rk_version() ? 0 : 1; }\n' >"$tmp/hdr.cpp"
    "$cxx" -std=c++17 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags ringkernel) "$tmp/hdr.cpp" ||
        die "the installed headers do not compile as C++"
    step "headers as C++: OK"
fi

# 1. Shared, through pkg-config.
read -ra flags <<<"$(pkg-config --cflags --libs ringkernel)"
"$cc" "${cflags[@]}" "$consumer/main.c" "${flags[@]}" -Wl,-rpath,"$libdir" -o "$tmp/pc_shared" ||
    die "pkg-config shared build failed (flags: ${flags[*]})"
readelf -d "$tmp/pc_shared" | grep -q 'NEEDED.*libringkernel\.so' || die "pc_shared does not use libringkernel.so"
run "pkg-config (shared)" "$tmp/pc_shared"

# 2. Static, through pkg-config --static: no shared library at all in the result.
read -ra flags <<<"$(pkg-config --static --cflags --libs ringkernel)"
"$cc" "${cflags[@]}" "$consumer/main.c" "${flags[@]}" -static -o "$tmp/pc_static" 2>"$tmp/static.log" ||
    { cat "$tmp/static.log" >&2; die "pkg-config --static build failed (flags: ${flags[*]})"; }
readelf -d "$tmp/pc_static" 2>/dev/null | grep -q NEEDED && die "pc_static is not static"
run "pkg-config --static" "$tmp/pc_static"

# 3. CMake find_package.
cmake -S "$consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; die "find_package build failed"; }
run "find_package ringkernel::ringkernel" "$tmp/cmake/consumer"
run "find_package ringkernel::shared" "$tmp/cmake/consumer_shared"
step "all consumers passed"
