"""The configuration: defaults, a YAML file (`-c`), then `-o key=value` overrides.

Keys are Falco's (falco.yaml) where Falco has them; nested keys are written
with dots on the command line (`-o stdout_output.enabled=false`).  A value on
the command line is read as YAML, so `true`, `42` and `[a, b]` mean what they
say.  Unknown keys are kept (a later stage may read them) but a key whose
value has the wrong type for a known default is an error that names the key.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Optional

import yaml

DEFAULTS: dict = {
    "rules_file": [],
    "rule_matching": "first",
    "priority": "debug",
    "json_output": False,
    "json_include_output_property": True,
    "json_include_tags_property": True,
    "json_include_output_fields_property": True,
    "time_format_iso_8601": False,
    "stdout_output": {"enabled": True},
    # Sinks (Falco's keys; ours where Falco has none: syslog host/port/protocol/
    # facility/socket, http retries/timeout, nats_output).  Each sink has a queue
    # of outputs_queue.capacity alerts (Falco's key; 0 means the default, 10000).
    "file_output": {"enabled": False, "keep_alive": False, "filename": "./events.txt"},
    "syslog_output": {"enabled": False, "host": "", "port": 514, "protocol": "udp",
                      "facility": "user", "socket": "/dev/log"},
    "program_output": {"enabled": False, "keep_alive": False, "program": ""},
    "http_output": {"enabled": False, "url": "", "user_agent": "sensor/0.1",
                    "insecure": False, "ca_cert": "", "ca_bundle": "", "ca_path": "",
                    "mtls": False, "client_cert": "", "client_key": "", "echo": False,
                    "compress_uploads": False, "keep_alive": True, "timeout": 5.0},
    "nats_output": {"enabled": False, "url": "nats://127.0.0.1:4222",
                    "subject": "sensor.alerts.{priority}", "stream": "SENSOR_ALERTS",
                    "ack": True, "ack_timeout": 5.0, "creds_file": "", "user": "",
                    "password": "", "token": "", "nkeys_seed": "", "tls_ca": "",
                    "tls_cert": "", "tls_key": "", "connect_timeout": 2.0},
    "outputs_queue": {"capacity": 0},
    "outputs": {"attempts": 5, "close_timeout": 5.0},
    # Deduplication (ours): the same rule with the same key fields within the window
    # is one alert, then one that says how many copies followed.  fields: [] means the
    # rule's output fields except the time ones.
    "dedup": {"enabled": True, "window": "10s", "fields": [], "max_keys": 10000},
    "append_output": [],
    "log_level": "info",
    "syscall_event_drops": {"threshold": 0.1, "actions": ["log", "alert"], "rate": 0.03333,
                            "max_burst": 1, "simulate_drops": False},
    # Live capture (ours; Falco sizes its buffers by preset): the BPF ring's
    # size in bytes (a power of two, at least 4096).
    "capture": {"ring_bytes": 16 << 20},
    # Container metadata for live capture (Falco 0.38+'s section; its keys per engine,
    # ours: socket, and ttl/max_wait/timeout): container.name, image, repository, tag,
    # privileged from a Docker-compatible API on a unix socket (Docker, or
    # `podman system service`), looked up in the background, refreshed every ttl;
    # alerts of a container seen for the first time wait at most max_wait for it
    # (0: never).  docs/LIVE.md, "Containers".
    "container_engines": {
        "docker": {"enabled": True, "socket": "/var/run/docker.sock"},
        "podman": {"enabled": True, "socket": "/run/podman/podman.sock"},
        "ttl": "60s", "max_wait": "500ms", "timeout": "2s",
    },
    # The multiprocess pipeline (ours): the user workers and the output process
    # switch to, without capabilities, when the sensor runs as root ("" keeps root).
    "pipeline": {"user": "nobody"},
    # Statistics every interval (a log line and JSON on stderr), and an HTTP
    # endpoint with Prometheus /metrics and /healthz (off by default).
    "metrics": {"enabled": False, "interval": "1m"},
    "webserver": {"enabled": False, "listen_address": "127.0.0.1", "listen_port": 8765},
}


class ConfigError(ValueError):
    pass


class Config:
    def __init__(self, values: Optional[dict] = None):
        self.values = copy.deepcopy(DEFAULTS)
        if values:
            _merge(self.values, values, "")

    @classmethod
    def load(cls, path: Optional[str] = None, overrides: tuple = ()) -> "Config":
        cfg = cls()
        if path:
            try:
                with open(path) as f:
                    doc = yaml.safe_load(f)
            except OSError as e:
                raise ConfigError(f"cannot read configuration {path}: {e.strerror}") from None
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: not valid YAML: {e}") from None
            if doc is not None and not isinstance(doc, dict):
                raise ConfigError(f"{path}: the configuration must be a mapping")
            _merge(cfg.values, doc or {}, "")
        for item in overrides:
            cfg.set_option(item)
        return cfg

    def set_option(self, item: str) -> None:
        """Apply one `-o key=value`."""
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"-o {item!r}: expected key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node = {}
        cur = node
        parts = key.strip().split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
        _merge(self.values, node, "")

    def get(self, key: str, default: Any = None) -> Any:
        cur: Any = self.values
        for p in key.split("."):
            if not isinstance(cur, dict) or p not in cur:
                return default
            cur = cur[p]
        return cur


def _merge(dst: dict, src: dict, prefix: str) -> None:
    for k, v in src.items():
        name = f"{prefix}{k}"
        old = dst.get(k)
        if isinstance(old, dict) and isinstance(v, dict):
            _merge(old, v, name + ".")
            continue
        if old is not None and v is not None:
            v = _check_type(name, old, v)
        dst[k] = v


def _check_type(name: str, old: Any, new: Any) -> Any:
    """The new value, checked against the type of the old one (a number where a
    string is expected is taken as its text: `-o x.password=1234`)."""
    if isinstance(old, str) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return str(new)
    if isinstance(old, bool):
        if not isinstance(new, bool):
            raise ConfigError(f"{name}: expected true or false, not {new!r}")
    elif isinstance(old, dict) and not isinstance(new, dict):
        raise ConfigError(f"{name}: expected a mapping, not {new!r}")
    elif isinstance(old, str) and not isinstance(new, str):
        raise ConfigError(f"{name}: expected a string, not {new!r}")
    return new


_UNITS = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value, key: str) -> float:
    """Seconds from Falco's durations ("15m", "30s", "250ms", "1h") or a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(value))
    if not m:
        raise ValueError(f"{key}: not a duration: {value!r} (e.g. 10s, 15m)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
