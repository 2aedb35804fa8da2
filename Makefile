# The two commands: `make run` and `make test`. Both set up what is missing first.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
APT_PKGS := clang llvm libbpf-dev bpftool make gcc
STAMP   := $(VENV)/.installed

.PHONY: setup run test apt clean

setup: apt $(STAMP)

# apt packages: installed only when one is missing (idempotent, no network otherwise).
apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 2; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
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
