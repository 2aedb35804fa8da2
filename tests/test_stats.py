"""Statistics: intervals, the JSON and log lines, Prometheus /metrics and
/healthz (the live endpoint with a real sensor, root only)."""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from sensor.config import Config
from sensor.stats import Stats, parse_interval
from test_live_run import Sensor, live_ready

ROOT = Path(__file__).resolve().parents[1]


def test_intervals_read_falco_durations():
    assert parse_interval("15m") == 900 and parse_interval("30s") == 30
    assert parse_interval("250ms") == 0.25 and parse_interval(5) == 5.0
    with pytest.raises(ValueError, match="not a duration"):
        parse_interval("soon")


def _snap(events, alerts, busy):
    return {"events": events, "kernel_drops": 3, "pipeline_dropped_events": 0,
            "pipeline_lost_batches": 1, "worker_lag": [0, 2], "worker_busy_s": busy,
            "alerts": alerts, "alerts_by_rule": {'Say "hi"': alerts},
            "outputs": {"http": {"accepted": alerts, "sent": alerts - 2, "dropped": 1,
                                 "failed": 1, "retries": 4, "in_flight": 0}}}


def test_reports_rates_and_prometheus_text():
    lines = []
    cfg = Config.load(None, ("metrics.enabled=true", "metrics.interval=10ms"))
    stats = Stats(cfg, lines.append)
    stats.tick(lambda: _snap(0, 0, [0.0, 0.0]))
    time.sleep(0.05)
    stats.tick(lambda: _snap(1000, 10, [0.01, 0.02]))
    doc = json.loads(lines[-1].split("stats: ", 1)[1])
    assert doc["events"] == 1000 and doc["events_per_s"] > 0
    assert len(doc["worker_utilization"]) == 2
    assert "events/s" in lines[-2] and "kernel drops 3" in lines[-2]
    text = stats.prometheus()
    assert "falcosecurity_scap_n_evts_total 1000" in text
    assert 'falcosecurity_falco_rules_matches_total{rule_name="Say \\"hi\\""} 10' in text
    assert 'sensor_worker_lag_batches{worker="2"} 2' in text
    assert 'sensor_output_sent_total{sink="http"} 8' in text
    assert 'sensor_output_failed_total{sink="http"} 1' in text
    assert "outputs lost {'http': 2}" in lines[-2]
    stats.close()


def test_disabled_by_default():
    lines = []
    stats = Stats(Config.load(None, ()), lines.append)
    stats.tick(lambda: _snap(1, 1, []))
    assert not lines and stats.server is None


@pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")
def test_live_endpoint_and_periodic_stats():
    port = 18000 + int(time.time()) % 1000
    s = Sensor("run", "-r", str(ROOT / "tests" / "rules" / "live_rules.yaml"), "--workers", "2",
               "-o", "metrics.enabled=true", "-o", "metrics.interval=1s",
               "-o", "webserver.enabled=true", "-o", f"webserver.listen_port={port}")
    try:
        time.sleep(2.5)
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        assert json.loads(health) == {"status": "ok"}
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"falcosecurity_scap_n_evts_total" in metrics
        assert b'sensor_worker_lag_batches{worker="2"}' in metrics
        assert b'sensor_output_sent_total{sink="stdout"}' in metrics
    finally:
        assert s.stop() == 0
    docs = [json.loads(x.split("stats: ", 1)[1]) for x in s.err if "stats: {" in x]
    assert docs and docs[-1]["events"] > 0 and len(docs[-1]["worker_lag"]) == 2
