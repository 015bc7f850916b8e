# rmapshim: thin wrapper around CMake.  Every target first installs what is
# missing (scripts/install-deps is idempotent and quiet when nothing is).
BUILD ?= build
JOBS  ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure test test-asan test-tsan demo clean

all: deps configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

test: all
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# Sanitizer flavours (used by .ci/run): ASan+UBSan on the whole suite,
# TSan on the concurrency tests.
test-asan: deps
	@test -f build-asan/CMakeCache.txt || cmake -S . -B build-asan -DRMAPSHIM_SANITIZE=address,undefined >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS) -L 'rmapcore|stress|shim|faults'

test-tsan: deps
	@test -f build-tsan/CMakeCache.txt || cmake -S . -B build-tsan -DRMAPSHIM_SANITIZE=thread >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && ctest --output-on-failure -j$(JOBS) -L tsan

demo: all
	@scripts/demo $(BUILD)

clean:
	rm -rf build build-asan build-tsan
