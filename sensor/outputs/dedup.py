"""Deduplication of alerts: the same rule with the same key fields within a window.

The first alert of a key is emitted at once and opens a window.  Copies within
the window are only counted.  When the window ends (by event time: the windows
follow the events, in replay as live), one alert stands for the copies: the last
copy, with `repeated` = how many copies there were.  So first + repeated is
always the number of matches.  Windows end when a later alert's time passes
them, when the owner calls expire() with the time now, when the table of keys
is full (the oldest window ends early), and at flush().

Key fields: by default, the rule's output fields except those that print the
event's time (they differ on every event); or the configured `dedup.fields`.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Optional

from ..config import parse_duration
from .alert import Alert

_TIME_FIELDS = ("evt.time", "evt.rawtime", "evt.datetime", "evt.reltime", "evt.deltatime")


def _is_time_field(name: str) -> bool:
    return name.startswith(_TIME_FIELDS)


class _Window:
    __slots__ = ("first_ts", "copies", "last")

    def __init__(self, first_ts: int):
        self.first_ts, self.copies, self.last = first_ts, 0, None


class Dedup:
    def __init__(self, window_ns: int, fields: tuple = (), max_keys: int = 10000):
        if window_ns <= 0:
            raise ValueError("dedup.window: must be more than 0")
        self.window_ns = int(window_ns)
        self.fields = tuple(fields)
        self.max_keys = max(1, int(max_keys))
        self._open: "OrderedDict[tuple, _Window]" = OrderedDict()   # by window start
        self._names: dict = {}    # rule -> its key field names (a rule's fields never change)
        self.matches = 0          # alerts admitted
        self.suppressed = 0       # copies counted, not emitted on their own

    def key(self, a: Alert) -> tuple:
        f = a.output_fields
        names = self._names.get(a.rule)
        if names is None:
            names = self._names[a.rule] = self.fields or tuple(
                n for n in f if not _is_time_field(n))
        return (a.rule,) + tuple(_hashable(f.get(n)) for n in names)

    def admit(self, a: Alert) -> list:
        """The alerts to emit now for `a`: windows that ended before it, then `a`
        itself if it opens a window."""
        self.matches += 1
        out = self.expire(a.ts)
        k = self.key(a)
        w = self._open.get(k)
        if w is not None:
            w.copies += 1
            w.last = a
            self.suppressed += 1
            return out
        if len(self._open) >= self.max_keys:
            out.extend(self._close(*self._open.popitem(last=False)))
        self._open[k] = _Window(a.ts)
        out.append(a)
        return out

    def expire(self, now_ns: int) -> list:
        """Reports for the windows that ended by `now_ns`."""
        out = []
        end = now_ns - self.window_ns
        while self._open:
            k, w = next(iter(self._open.items()))
            if w.first_ts > end:
                break
            del self._open[k]
            out.extend(self._close(k, w))
        return out

    def flush(self) -> list:
        out = []
        while self._open:
            out.extend(self._close(*self._open.popitem(last=False)))
        return out

    def pending(self) -> int:
        return len(self._open)

    @staticmethod
    def _close(key, w: _Window) -> list:
        if not w.copies:
            return []
        return [dataclasses.replace(w.last, repeated=w.copies,
                                    repeated_ns=max(0, w.last.ts - w.first_ts))]


def _hashable(v):
    return tuple(v) if type(v) is list else v


def from_config(cfg) -> Optional[Dedup]:
    """The configured Dedup, or None when dedup.enabled is false."""
    if not cfg.get("dedup.enabled", True):
        return None
    fields = cfg.get("dedup.fields") or []
    if not isinstance(fields, list) or not all(isinstance(x, str) for x in fields):
        raise ValueError("dedup.fields: expected a list of field names")
    return Dedup(int(parse_duration(cfg.get("dedup.window", "10s"), "dedup.window") * 1e9),
                 tuple(fields), int(cfg.get("dedup.max_keys", 10000)))
