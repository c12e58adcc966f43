# The two set-up commands of the README:
#   make run   installs what is missing, builds, starts the system locally
#   make test  installs what is missing, builds, runs every test (sanitizers, fuzzing, then the full suite)
.PHONY: run test deps build build-asan build-fuzz test-asan test-fuzz test-main format clean \
        package test-package deps-container test-container

JOBS ?= 2

deps:
	bash deploy/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

build-fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

run: build
	bash deploy/run-local.sh

test-asan: build-asan
	ctest --preset asan -j $(JOBS)

test-fuzz: build-fuzz
	ctest --preset fuzz

test-main: build
	ctest --preset release -j $(JOBS)

# The full suite runs last so that its ctest summary closes the output.
test: test-asan test-fuzz test-main

# The Debian package: build/dist/kaillera-federation_<version>_amd64.deb (cmake/Package.cmake).
package: build
	cmake --build --preset release --target package -j $(JOBS)
	@ls -l build/dist/*.deb

# Slow and as root, not part of `make test`: installs, upgrades, removes and purges the package on this
# machine, and runs the installed relay (tests/package/test_package.sh).
test-package: package
	bash tests/package/test_package.sh

deps-container:
	KF_WITH_CONTAINER=1 bash deploy/install-deps.sh

# Slow, not part of `make test`: builds the image with podman and runs deploy/container/compose.yaml
# (tests/package/test_container.sh).
test-container: deps-container
	bash tests/package/test_container.sh

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz build-debug
