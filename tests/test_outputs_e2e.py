"""`sensor replay` with the fleet sinks set by -o: alerts land in a real JetStream
stream and on an HTTP endpoint that fails first and then recovers, each exactly
once and the same as on stdout."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_replay import OWN_RULES
from test_sink_http import Server
from test_sink_nats import NatsServer, read_stream

ROOT = Path(__file__).resolve().parents[1]
CAT_WRITE = ROOT / ".." / "shared" / "conformance" / "falco" / "trace_files" / "cat_write.scap"

pytestmark = pytest.mark.skipif(not CAT_WRITE.is_file(),
                                reason="needs Falco's traces in ../shared")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_replay_to_jetstream_and_a_recovering_http_endpoint(tmp_path, workers):
    rules = tmp_path / "rules.yaml"
    rules.write_text(OWN_RULES)
    nats = NatsServer(tmp_path / "js").start()
    http = Server(fail_first=2)
    try:
        p = subprocess.run(
            [sys.executable, "-m", "sensor.cli", "replay", str(CAT_WRITE), "-r", str(rules),
             "--json", "--workers", workers, "-o", "dedup.enabled=false",
             "-o", "nats_output.enabled=true", "-o", f"nats_output.url={nats.url}",
             "-o", "http_output.enabled=true", "-o", f"http_output.url={http.url}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        alerts = [json.loads(x) for x in p.stdout.splitlines()]
        assert len(alerts) == 6
        info, msgs = read_stream(nats.url)
        assert [json.loads(data) for _, data in msgs] == alerts
        assert sorted({s for s, _ in msgs}) == ["sensor.alerts.error", "sensor.alerts.notice"]
        assert [json.loads(b) for b in http.bodies()] == alerts
        summary = p.stderr
        assert "Output nats: 6 sent" in summary
        assert "Output http: 6 sent" in summary and "retries" in summary.split(
            "Output http:")[1].split("\n")[0]
    finally:
        nats.stop()
        http.stop()
