# The two commands: `make serve` (the main job) and `make test` (everything).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/py
JOBS ?= $(shell nproc)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CCACHE_DIR ?= $(CURDIR)/build/ccache

.PHONY: all deps build serve test test-cpp test-python test-sanitizers bench clean

all: build

deps:
	@bash scripts/bootstrap.sh

# Builds the engine, the Python module (installed into .venv) and the C++
# tests and benchmarks, all from one CMake build directory.
build: deps
	mkdir -p build && CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) flock build/.lock $(PY) -m pip install -q --no-build-isolation --no-deps \
	  -C build-dir=$(BUILD) -C cmake.define.ZEPTO_BUILD_TESTS=ON -C cmake.define.ZEPTO_BUILD_BENCH=ON .

# The ClickHouse-compatible HTTP server on 127.0.0.1:8123, in memory (Ctrl-C stops it).
serve: build
	$(VENV)/bin/zepto-server --host 127.0.0.1 --port 8123

test: build test-cpp test-python test-sanitizers

test-cpp:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-python:
	cd tests/python && ../../$(PY) -m pytest -q -ra -c ../../pyproject.toml --rootdir ../.. .

# The C++ tests again under AddressSanitizer+UBSan and under ThreadSanitizer
# (only the test binary: the server is exercised by the Python tests).
test-sanitizers:
	cmake -S . -B build/asan -G Ninja -DZEPTO_BUILD_TESTS=ON -DZEPTO_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug > /dev/null
	cmake --build build/asan -j $(JOBS) --target zepto_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build/asan --output-on-failure -j $(JOBS)
	cmake -S . -B build/tsan -G Ninja -DZEPTO_BUILD_TESTS=ON -DZEPTO_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug > /dev/null
	cmake --build build/tsan -j $(JOBS) --target zepto_tests
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j $(JOBS)

bench: build
	$(PY) bench/run_all.py

clean:
	rm -rf build
