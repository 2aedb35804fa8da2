"""Alerts between processes: one orjson array per alert, with the batch
sequence it came from (the output process emits in (sequence, event) order)."""
from __future__ import annotations

import orjson

from ..compile.rule import Priority
from ..outputs.alert import Alert


def encode(a: Alert, seq: int) -> bytes:
    return orjson.dumps([seq, a.num, a.ts, a.rule, int(a.priority), a.source, list(a.tags),
                         a.output, a.output_fields])


def decode(raw: bytes) -> tuple[int, Alert]:
    seq, num, ts, rule, prio, source, tags, output, fields = orjson.loads(raw)
    return seq, Alert(ts=ts, rule=rule, priority=Priority(prio), source=source,
                      tags=tuple(tags), output=output, output_fields=fields, num=num)
