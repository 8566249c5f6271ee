# Makefile - the quick-start wrapper around CMake. `make run` and `make test` work on a fresh Debian 12
# machine: both install missing packages first (scripts/deps.sh). Every target is idempotent, prints one
# line per step when it succeeds and the whole log of a step that fails.
#
#   make deps      install missing Debian packages (apt-get, as root or through sudo)
#   make build     configure and build in build/ (the CUDA backend too when nvcc is found)
#   make run       deps + build + the demo on the best available backend (build/cli/ringkernel demo)
#   make test      deps + build + the full suite, then the unit suite under ASan+UBSan and under TSan
#   make bench     build + the benchmarks; BENCH_SAVE=1 also writes bench/results/<date>-<host>.txt
#   make install   build + cmake --install build --prefix $(PREFIX)  (PREFIX defaults to /usr/local)
#   make python    build + install the Python package into $(PYTHON)'s site-packages (pip, offline, no
#                  build isolation; PIP_ARGS adds options, e.g. PIP_ARGS=--user)
#   make clean     remove build/, build-asan/, build-tsan/ and build-fuzz/
#
# BUILD_DIR (default build) names the main tree; the sanitizer trees are $(BUILD_DIR)-asan and -tsan.
# CMAKE_ARGS goes to the configure step of build/ (`make build CMAKE_ARGS=-DRK_WITH_CUDA=OFF`);
# DEMO_ARGS to the demo (`make run DEMO_ARGS='--backend cpu -n 10000'`).
# Steps run in sequence inside each recipe (not as prerequisites), so `make -j` keeps their order.

BUILD_DIR ?= build
PREFIX ?= /usr/local
CMAKE_ARGS ?=
DEMO_ARGS ?=
PYTHON ?= /usr/bin/python3
PIP_ARGS ?=

DEPS = scripts/deps.sh
BUILD = scripts/build.sh $(BUILD_DIR) $(CMAKE_ARGS)

.PHONY: all deps build run test bench install python clean

all: build

deps:
	@$(DEPS)

build:
	@$(BUILD)

run:
	@$(DEPS)
	@$(BUILD)
	@$(BUILD_DIR)/cli/ringkernel demo $(DEMO_ARGS)

test:
	@$(DEPS)
	@$(BUILD)
	@scripts/test.sh $(BUILD_DIR)

bench:
	@$(BUILD)
	@scripts/bench.sh $(BUILD_DIR)

install:
	@$(BUILD)
	@cmake --install $(BUILD_DIR) --prefix "$(PREFIX)" >$(BUILD_DIR)/install.log 2>&1 || \
		{ cat $(BUILD_DIR)/install.log >&2; exit 1; }
	@echo "install: ok ($(PREFIX))"

python:
	@$(BUILD)
	@RK_BUILD_DIR=$(abspath $(BUILD_DIR)) $(PYTHON) -m pip install --no-build-isolation --no-deps --no-index \
		--break-system-packages $(PIP_ARGS) ./python >$(BUILD_DIR)/python-install.log 2>&1 || \
		{ cat $(BUILD_DIR)/python-install.log >&2; exit 1; }
	@cd / && $(PYTHON) -c "import ringkernel, sys; print('python: ok (ringkernel', ringkernel.__version__, 'in', ringkernel.__path__[0] + ')')"

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR)-asan $(BUILD_DIR)-tsan build-fuzz
