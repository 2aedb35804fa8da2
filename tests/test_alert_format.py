"""Alerts rendered from matches, in Falco's text and JSON forms."""
import json
import os
import time

import pytest

from sensor.config import Config
from sensor.engine import Engine
from sensor.events.builder import Builder
from sensor.outputs.alert import AlertRenderer
from sensor.outputs.formats import Formatter, time_json, time_text

RULES = """
- rule: shadow read
  desc: x
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "read of %fd.name by %proc.name (pid=%proc.pid user=%user.name cport=%fd.cport up=%toupper(proc.name))"
  priority: WARNING
  tags: [b, a]
"""

TS = 1_470_327_477_881_781_397      # 2016-08-04T16:17:57.881781397Z


@pytest.fixture(scope="module")
def alerts():
    b = Builder()
    p = b.add_proc(pid=42, comm="cat", exe="/bin/cat", args=["/etc/shadow"])
    b.add_event("openat", slot=p, res=3, fd=3, fd_type="f", fd_name="/etc/shadow", ts=TS,
                user_name="root", params={"name": "/etc/shadow", "flags": "O_RDONLY"})
    b.add_event("openat", slot=p, res=4, fd=4, fd_type="f", fd_name="/etc/passwd", ts=TS)
    B, P, C = b.build()
    eng = Engine()
    eng.load_rules(RULES)
    m = eng.evaluate(B, P, C)
    return AlertRenderer().alerts(m, B, P, C)


def test_rendered_output_and_fields(alerts):
    assert len(alerts) == 1
    a = alerts[0]
    assert a.output == "read of /etc/shadow by cat (pid=42 user=root cport=<NA> up=CAT)"
    assert a.output_fields == {"fd.name": "/etc/shadow", "proc.name": "cat", "proc.pid": 42,
                               "user.name": "root", "fd.cport": None,
                               "toupper(proc.name)": "CAT"}
    assert a.rule == "shadow read" and a.priority.label() == "Warning"


def test_text_line(alerts):
    iso = Formatter(Config({"time_format_iso_8601": True}))
    assert iso.line(alerts[0]) == ("2016-08-04T16:17:57.881781397+0000: Warning read of "
                                   "/etc/shadow by cat (pid=42 user=root cport=<NA> up=CAT)")
    local = Formatter(Config())
    sec = TS // 10**9
    assert local.line(alerts[0]).startswith(
        time.strftime("%H:%M:%S", time.localtime(sec)) + ".881781397: Warning read of")


def test_json_line(alerts):
    doc = json.loads(Formatter(Config({"json_output": True})).line(alerts[0]))
    assert doc["time"] == "2016-08-04T16:17:57.881781397Z"
    assert doc["rule"] == "shadow read" and doc["priority"] == "Warning"
    assert doc["source"] == "syscall" and doc["tags"] == ["a", "b"]
    assert doc["output_fields"]["proc.pid"] == 42
    assert doc["output"].endswith("Warning read of /etc/shadow by cat "
                                  "(pid=42 user=root cport=<NA> up=CAT)")
    assert doc["hostname"] == os.uname().nodename


def test_json_properties_can_be_left_out(alerts):
    f = Formatter(Config({"json_output": True, "json_include_output_property": False,
                          "json_include_tags_property": False,
                          "json_include_output_fields_property": False}))
    doc = json.loads(f.line(alerts[0]))
    assert "output" not in doc and "tags" not in doc and "output_fields" not in doc


def test_time_helpers():
    assert time_json(5) == "1970-01-01T00:00:00.000000005Z"
    assert time_text(5, True) == "1970-01-01T00:00:00.000000005+0000"
