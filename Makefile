# The two commands: `make run` and `make test`. Both set up what is missing first.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
APT_PKGS := clang llvm libbpf-dev bpftool make gcc
# sysdig: the tests' judge of .scap files (without its recommended kernel-module package).
APT_BARE := sysdig
STAMP   := $(VENV)/.installed

.PHONY: setup run test apt apt-install clean

setup: apt $(STAMP)

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
	$(VPY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: setup
	$(VENV)/bin/sensor

test: setup
	$(VPY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
