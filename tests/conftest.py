"""Fixtures shared by test files."""
from __future__ import annotations

import pytest

import podman_env
from bpf_producer import BAD_SRC, PRODUCER_SRC, compile_bpf

# podman's Docker-compatible API for the tests that name it (tests/podman_env.py)
podman_service = podman_env.podman_service


@pytest.fixture(scope="module")
def bpf_objects(tmp_path_factory):
    d = tmp_path_factory.mktemp("bpf")
    return {"producer": compile_bpf(PRODUCER_SRC, d), "bad": compile_bpf(BAD_SRC, d)}
