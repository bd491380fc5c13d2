# Thin wrapper over CMake: `make run` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
EPOCHS ?= 5
PACKAGES = cmake make gcc pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd \
           libclblast-dev check zlib1g-dev libjansson-dev libopenblas-dev dataset-fashion-mnist \
           clang libclang-rt-14-dev clang-format gnuplot-nox oclgrind \
           libopenmpi-dev openmpi-bin libzip-dev python3-numpy
SUDO = $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all deps build run test clean

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/pepita train --epochs $(EPOCHS)

test: build
	cd $(BUILD) && ctest --output-on-failure

clean:
	rm -rf $(BUILD)
