"""Fixtures shared by test files."""
from __future__ import annotations

import pytest

from bpf_producer import BAD_SRC, PRODUCER_SRC, compile_bpf


@pytest.fixture(scope="module")
def bpf_objects(tmp_path_factory):
    d = tmp_path_factory.mktemp("bpf")
    return {"producer": compile_bpf(PRODUCER_SRC, d), "bad": compile_bpf(BAD_SRC, d)}
