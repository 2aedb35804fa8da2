"""Alerts as Falco prints them: the text line and the JSON object.

Text:  `<time>: <Priority> <output>`; the time is local `HH:MM:SS.nnnnnnnnn`,
or with time_format_iso_8601 `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` (UTC).
JSON:  one object per line: time (ISO 8601 UTC, nanoseconds, `Z`), rule,
priority, source, hostname, output, output_fields, tags; `output`, `tags`
and `output_fields` can be left out by configuration as in Falco.
An alert that stands for deduplicated copies (ours) says so: the text ends
with `(repeated N times in Ws)`, the JSON has a top-level `repeated: N`.
"""
from __future__ import annotations

import socket
import time

import orjson

from .alert import Alert


def _split(ts: int) -> tuple[int, int]:
    return ts // 1_000_000_000, ts % 1_000_000_000


def time_text(ts: int, iso_8601: bool) -> str:
    sec, ns = _split(ts)
    if iso_8601:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns:09d}+0000"
    return time.strftime("%H:%M:%S", time.localtime(sec)) + f".{ns:09d}"


def log_prefix(iso_8601: bool, now: float = None) -> str:
    """The time Falco puts before its own log messages (not alerts)."""
    now = time.time() if now is None else now
    if iso_8601:
        return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(now))
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))


def time_json(ts: int) -> str:
    sec, ns = _split(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns:09d}Z"


def repeated_text(a: Alert) -> str:
    if not a.repeated:
        return ""
    return f" (repeated {a.repeated} times in {a.repeated_ns / 1e9:.3g}s)"


class Formatter:
    def __init__(self, config):
        self.json = bool(config.get("json_output"))
        self.iso = bool(config.get("time_format_iso_8601"))
        self.with_output = bool(config.get("json_include_output_property", True))
        self.with_tags = bool(config.get("json_include_tags_property", True))
        self.with_fields = bool(config.get("json_include_output_fields_property", True))
        self.hostname = socket.gethostname()

    def text(self, a: Alert) -> str:
        return f"{time_text(a.ts, self.iso)}: {a.priority.label()} {a.output}{repeated_text(a)}"

    def json_bytes(self, a: Alert) -> bytes:
        # Falco's key order: hostname, output, priority, rule, source, tags, time, output_fields.
        doc = {"hostname": self.hostname}
        if self.with_output:
            doc["output"] = self.text(a)
        doc.update(priority=a.priority.label(), rule=a.rule, source=a.source)
        if self.with_tags:
            doc["tags"] = sorted(a.tags)
        doc["time"] = time_json(a.ts)
        if self.with_fields:
            doc["output_fields"] = a.output_fields
        if a.repeated:
            doc["repeated"] = a.repeated
        return orjson.dumps(doc)

    def line(self, a: Alert) -> str:
        return self.json_bytes(a).decode() if self.json else self.text(a)
