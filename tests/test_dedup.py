"""Deduplication: windows, keys, accounting (first + repeated == matches)."""
import random

import orjson
import pytest

from sensor.compile.rule import Priority
from sensor.config import Config
from sensor.outputs.alert import Alert
from sensor.outputs.dedup import Dedup, from_config
from sensor.outputs.formats import Formatter

S = 1_000_000_000


def alert(ts, rule="r", **fields):
    fields.setdefault("evt.time", str(ts))
    return Alert(ts=ts, rule=rule, priority=Priority.WARNING, source="syscall", tags=(),
                 output=f"out {fields}", output_fields=fields, num=ts)


def accounted(emitted) -> int:
    """Matches the emitted alerts stand for: a first is one, a report its copies."""
    return sum(a.repeated if a.repeated else 1 for a in emitted)


def test_first_at_once_copies_reported_at_window_end():
    d = Dedup(10 * S)
    out = d.admit(alert(0, **{"proc.name": "cat"}))
    assert len(out) == 1 and out[0].repeated == 0
    for i in range(1, 6):
        assert d.admit(alert(i * S, **{"proc.name": "cat"})) == []
    # A later alert past the window ends it: the report comes first, then the new one.
    out = d.admit(alert(11 * S, **{"proc.name": "cat"}))
    assert [a.repeated for a in out] == [5, 0]
    assert out[0].ts == 5 * S and out[0].repeated_ns == 5 * S
    assert d.matches == 7 and d.suppressed == 5


def test_time_fields_are_not_part_of_the_default_key_but_others_are():
    d = Dedup(10 * S)
    assert len(d.admit(alert(0, **{"proc.name": "a", "evt.time.iso8601": "x"}))) == 1
    assert d.admit(alert(1, **{"proc.name": "a", "evt.time.iso8601": "y"})) == []
    assert len(d.admit(alert(2, **{"proc.name": "b"}))) == 1          # another key
    assert len(d.admit(alert(3, rule="other", **{"proc.name": "a"}))) == 1


def test_configured_fields_make_the_key():
    d = Dedup(10 * S, fields=("proc.name",))
    assert len(d.admit(alert(0, **{"proc.name": "a", "proc.pid": 1}))) == 1
    assert d.admit(alert(1, **{"proc.name": "a", "proc.pid": 2})) == []


def test_expire_by_clock_and_flush():
    d = Dedup(10 * S)
    d.admit(alert(0, k=1))
    d.admit(alert(1, k=1))
    assert d.expire(9 * S) == []
    out = d.expire(10 * S)
    assert [a.repeated for a in out] == [1] and d.pending() == 0
    d.admit(alert(20 * S, k=2))
    assert d.flush() == []                         # no copies: nothing to report


def test_full_table_ends_the_oldest_window_early():
    d = Dedup(10 * S, max_keys=2)
    for k in (1, 2):
        d.admit(alert(k, k=k))
        d.admit(alert(k + 10, k=k))
    out = d.admit(alert(30, k=3))
    assert [(a.output_fields["k"], a.repeated) for a in out] == [(1, 1), (3, 0)]
    assert d.pending() == 2


@pytest.mark.parametrize("max_keys", [100, 5])
def test_accounting_is_exact_under_a_random_flood(max_keys):
    """16 keys, 20000 matches over ~2 s of event time; with a table of 5 keys
    windows end early all the time, and the count still holds."""
    rng = random.Random(7)
    d = Dedup(S // 2, max_keys=max_keys)
    emitted, ts = [], 0
    for _ in range(20000):
        ts += rng.randrange(0, 200_000)
        emitted += d.admit(alert(ts, rule=rng.choice("ab"), k=rng.randrange(8)))
    emitted += d.flush()
    assert accounted(emitted) == 20000
    if max_keys == 100:
        assert len(emitted) <= 16 * 2 * 5        # a first and a report per key and window


def test_formats_say_how_many_repeats():
    fmt = Formatter(Config({"time_format_iso_8601": True}))
    a = alert(0, k=1)
    a.repeated, a.repeated_ns = 999, 2_500_000_000
    assert fmt.text(a).endswith(" (repeated 999 times in 2.5s)")
    doc = orjson.loads(fmt.json_bytes(a))
    assert doc["repeated"] == 999 and doc["output"].endswith("(repeated 999 times in 2.5s)")
    assert "repeated" not in orjson.loads(fmt.json_bytes(alert(0, k=1)))


def test_from_config():
    assert from_config(Config({"dedup": {"enabled": False}})) is None
    d = from_config(Config({"dedup": {"window": "500ms", "fields": ["fd.name"]}}))
    assert d.window_ns == 500_000_000 and d.fields == ("fd.name",)
    with pytest.raises(ValueError, match="dedup.window"):
        from_config(Config({"dedup": {"window": "soon"}}))
    with pytest.raises(ValueError, match="dedup.fields"):
        from_config(Config({"dedup": {"fields": "fd.name"}}))
