"""Live statistics: every `metrics.interval` a log line and a JSON document on
stderr, and (with `webserver.enabled`) Prometheus `/metrics` and `/healthz`
over HTTP, with Falco's metric names where Falco has the metric.

    stats = Stats(cfg, log)
    stats.tick(snapshot_fn)          # often; reports when the interval is over
    stats.close()
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

import orjson

from .config import parse_duration

def parse_interval(value) -> float:
    return parse_duration(value, "metrics.interval")


class Stats:
    def __init__(self, cfg, log: Callable[[str], None]):
        self.enabled = bool(cfg.get("metrics.enabled", False))
        self.interval = parse_interval(cfg.get("metrics.interval", "1m"))
        self.log = log
        self.last = time.monotonic()
        self.prev: Optional[dict] = None
        self.current: dict = {}
        self.server = None
        if cfg.get("webserver.enabled", False):
            self.server = _serve(str(cfg.get("webserver.listen_address", "127.0.0.1")),
                                 int(cfg.get("webserver.listen_port", 8765)), self)

    def tick(self, snapshot: Callable[[], dict]) -> None:
        now = time.monotonic()
        due = self.enabled and now - self.last >= self.interval
        if not due and self.server is None:
            return
        if self.server is not None and now - self.current.get("_at", 0) < 1.0 and not due:
            return
        snap = snapshot()
        snap["_at"] = now
        self.current = snap
        if due:
            self._report(snap, now)

    def _report(self, snap: dict, now: float) -> None:
        prev = self.prev or {"events": 0, "alerts": 0, "_at": self.last}
        dt = max(now - prev["_at"], 1e-9)
        doc = {k: v for k, v in snap.items() if not k.startswith("_")}
        doc["events_per_s"] = round((snap["events"] - prev["events"]) / dt, 1)
        doc["alerts_per_s"] = round((snap["alerts"] - prev["alerts"]) / dt, 3)
        busy_prev = prev.get("worker_busy_s") or [0.0] * len(snap.get("worker_busy_s", []))
        doc["worker_utilization"] = [round((b - a) / dt, 3) for a, b in
                                     zip(busy_prev, snap.get("worker_busy_s", []))]
        lost = {name: c["dropped"] + c["failed"] for name, c in snap.get("outputs", {}).items()}
        self.log(f"stats: {doc['events_per_s']:,.0f} events/s, {doc['alerts_per_s']} alerts/s, "
                 f"kernel drops {snap['kernel_drops']}, pipeline drops "
                 f"{snap['pipeline_dropped_events']} events, worker lag {snap['worker_lag']}, "
                 f"utilization {doc['worker_utilization']}, outputs lost {lost}")
        self.log("stats: " + orjson.dumps(doc).decode())
        self.prev, self.last = snap, now

    def prometheus(self) -> str:
        s = self.current
        if not s:
            return ""
        lines = [
            "# HELP falcosecurity_scap_n_evts_total Events captured.",
            "# TYPE falcosecurity_scap_n_evts_total counter",
            f"falcosecurity_scap_n_evts_total {s['events']}",
            "# HELP falcosecurity_scap_n_drops_total Events the kernel could not deliver.",
            "# TYPE falcosecurity_scap_n_drops_total counter",
            f"falcosecurity_scap_n_drops_total {s['kernel_drops']}",
            "# HELP falcosecurity_falco_rules_matches_total Alerts, by rule.",
            "# TYPE falcosecurity_falco_rules_matches_total counter",
        ]
        for rule, n in sorted(s.get("alerts_by_rule", {}).items()):
            name = rule.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'falcosecurity_falco_rules_matches_total{{rule_name="{name}"}} {n}')
        lines += [
            "# HELP sensor_pipeline_dropped_events_total Events dropped with no free batch slot.",
            "# TYPE sensor_pipeline_dropped_events_total counter",
            f"sensor_pipeline_dropped_events_total {s['pipeline_dropped_events']}",
            "# HELP sensor_pipeline_lost_batches_total Batches lost in workers that died.",
            "# TYPE sensor_pipeline_lost_batches_total counter",
            f"sensor_pipeline_lost_batches_total {s['pipeline_lost_batches']}",
            "# HELP sensor_worker_lag_batches Batches posted that a worker has not finished.",
            "# TYPE sensor_worker_lag_batches gauge",
        ]
        lines += [f'sensor_worker_lag_batches{{worker="{i + 1}"}} {v}'
                  for i, v in enumerate(s.get("worker_lag", []))]
        for counter in ("sent", "dropped", "failed", "retries"):
            lines += [f"# HELP sensor_output_{counter}_total Alerts {_OUTPUT_HELP[counter]}, "
                      "by sink.", f"# TYPE sensor_output_{counter}_total counter"]
            lines += [f'sensor_output_{counter}_total{{sink="{name}"}} {c[counter]}'
                      for name, c in sorted(s.get("outputs", {}).items())]
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


_OUTPUT_HELP = {"sent": "delivered", "dropped": "refused with the sink's queue full",
                "failed": "given up after retries", "retries": "delivery attempts repeated"}


def _serve(address: str, port: int, stats: Stats):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                body, ctype = stats.prometheus().encode(), "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                body, ctype = b'{"status": "ok"}', "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):      # no access log on stderr
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
