"""Helpers of the live scenario suite (tests/scenarios/).

Every scenario does one real suspicious thing and finds its alert by a marker
of its own: the pid of the child it started, a unique temp path, or a unique
process name.  Other people's tests run sensors and containers on this machine
at the same time, so nothing is matched on rule name alone.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FALCO_STABLE = SHARED / "rulesets" / "falco-rules-5.0.0" / "falco_rules.yaml"
OUR_RULES = ROOT / "rules"
PY = sys.executable

# Output fields added to every alert (`append_output`): the session id, to
# attribute alerts to the benign workload, and for Falco's rules (whose outputs
# carry no pid) what the scenarios match on.
EXTRA_FIELDS = {
    "sensor": ["proc.sid"],
    "falco": ["proc.pid", "proc.ppid", "proc.sid", "proc.cmdline", "proc.exepath", "fd.name",
              "container.id", "container.name"],
}

NOT_IN_FALCO = "Falco's stable rules (falco-rules-5.0.0) have no rule for this"


def uid() -> str:
    """A marker unique to one scenario run."""
    return "sensortest-" + uuid.uuid4().hex[:10]


def fields(alert: dict) -> dict:
    return alert["output_fields"]


def expected_rule(sensor, ours: str, falco: str | None, why: str = NOT_IN_FALCO) -> str:
    """The rule this scenario must raise with the sensor's ruleset; skips the
    scenario (before it acts) when that ruleset has none."""
    rule = ours if sensor.ruleset == "sensor" else falco
    if rule is None:
        pytest.skip(why)
    return rule


def wait(sensor, rule: str, match: dict, timeout: float = 20.0) -> dict:
    """The alert of `rule` whose output fields have the values of `match`
    ({"proc.pid": 123, "fd.name": "/etc/x"})."""
    return sensor.wait_alert(
        lambda a: a["rule"] == rule and all(fields(a).get(k) == v for k, v in match.items()),
        timeout=timeout)


def run(argv, timeout: float = 30.0, **kw) -> tuple[int, int]:
    """Run a child to its end: (pid, exit code)."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen([str(a) for a in argv], **kw)
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    return p.pid, rc


def run_py(code: str, *args, python: str = PY, timeout: float = 30.0, **kw) -> tuple[int, int, str]:
    """Run Python code in a child: (pid, exit code, stdout)."""
    p = subprocess.Popen([python, "-c", code, *[str(a) for a in args]], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **kw)
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"child failed ({p.returncode}): {err}"
    return p.pid, p.returncode, out


def copy_binary(src: str, dest_dir: Path, name: str) -> Path:
    """A copy of a system program under another name: its proc.name is `name`."""
    path = shutil.which(src) or src
    dest = Path(dest_dir) / name
    shutil.copy(os.path.realpath(path), dest)
    dest.chmod(0o755)
    return dest


def host_ip() -> str | None:
    """This machine's address on its default route (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ipaddress.ip_address(ip).is_loopback else ip


def is_rfc1918(ip: str) -> bool:
    a = ipaddress.ip_address(ip)
    return any(a in ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                      "192.168.0.0/16"))


def listener(ip: str, port: int = 0) -> socket.socket:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(8)
    return srv
