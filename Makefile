# The two commands: `make run` and `make test`. Both set up what is missing first.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
APT_PKGS := clang llvm libbpf-dev bpftool make gcc
# podman, runc, busybox-static: real containers for the container tests (tests/podman/).
APT_PKGS += podman runc busybox-static
# sysdig: the tests' judge of .scap files (without its recommended kernel-module package);
# nats-server: the JetStream server the NATS output's tests start.
APT_BARE := sysdig nats-server
STAMP   := $(VENV)/.installed

.PHONY: setup run test bench apt apt-install bpf podman clean

setup: apt $(STAMP) bpf podman

# apt packages: installed only when one is missing (idempotent, no network otherwise).
apt:
	@$(MAKE) -s apt-install PKGS="$(APT_PKGS)" APT_FLAGS=""
	@$(MAKE) -s apt-install PKGS="$(APT_BARE)" APT_FLAGS="--no-install-recommends"

apt-install:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 2; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_FLAGS) $$missing; \
	fi

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test,bench]'
	@touch $(STAMP)

# The probes: CO-RE BPF, vmlinux.h made from this kernel's BTF at build time.
BPF_OBJ  := bpf/build/sensor.bpf.o
BPF_SRC  := $(wildcard bpf/*.c bpf/*.h)
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wno-unused-function

bpf: $(BPF_OBJ)

bpf/build/vmlinux.h:
	@mkdir -p bpf/build
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OBJ): $(BPF_SRC) bpf/build/vmlinux.h
	clang $(BPF_CFLAGS) -Ibpf/build -Ibpf -c bpf/sensor.bpf.c -o $@

# Podman for the container tests: containers.conf settings this machine needs (kept where
# set, added where missing) and the busybox image the tests run, imported if absent.
podman: apt
	@sh tests/podman/setup.sh

run: setup
	$(VENV)/bin/sensor

test: setup
	$(VPY) -m pytest -q

# The benchmarking suite (perf/, root, ~15 min): perf/results/<date>.json, latest.json,
# plots, and the tables in perf/RESULTS.md and README.md.
bench: setup
	$(VPY) perf/bench_all.py

clean:
	rm -rf $(VENV) build *.egg-info bpf/build
