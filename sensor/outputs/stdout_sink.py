"""stdout_output: the alert lines on standard output."""
from __future__ import annotations

import sys

from .sink import Sink


class StdoutSink(Sink):
    kind = "stdout"

    def __init__(self, section: dict = None, **common):
        super().__init__("stdout", **common)

    def write(self, items: list) -> None:
        # sys.stdout looked up each time: a caller may redirect it (tests, embedding).
        out = sys.stdout
        out.write("".join(item.line + "\n" for item in items))
        out.flush()
