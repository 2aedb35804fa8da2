"""NatsSink against a real nats-server with JetStream: subjects, bodies and
counts read back from the stream, the stream made or reused, a server restart,
no server at all, and user/password authentication."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time

import nats
import pytest

from sensor.compile.rule import Priority
from sensor.config import DEFAULTS, Config
from sensor.outputs.alert import Alert
from sensor.outputs.formats import Formatter
from sensor.outputs.nats_sink import NatsSink
from sensor.outputs.sink import Rendered

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server not installed")

FORMATTER = Formatter(Config())
TS = 1_700_000_000_123_456_789
HOST = socket.gethostname().replace(".", "_")


def items(n: int, priority=Priority.WARNING, start=0) -> list:
    out = []
    for i in range(start, start + n):
        a = Alert(ts=TS + i, rule="r", priority=priority, source="syscall", tags=("a",),
                  output=f"text {i}", output_fields={"proc.name": "cat", "i": i}, num=i + 1)
        out.append(Rendered(a, FORMATTER.text(a), FORMATTER))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class NatsServer:
    """nats-server with JetStream on a free port; stop() and start() keep the port
    and the store directory, as a restart would."""

    def __init__(self, store, *extra):
        self.port, self.store, self.extra, self.proc = free_port(), store, extra, None
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", str(self.store), *self.extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepting():
            assert self.proc.poll() is None, "nats-server exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        assert wait_until(accepting), "nats-server did not start"
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def nats_server(tmp_path):
    started = []

    def start(*extra):
        started.append(NatsServer(tmp_path / f"js{len(started)}", *extra).start())
        return started[-1]

    yield start
    for s in started:
        s.stop()


def nats_sink(url, **settings):
    common = {k: settings.pop(k) for k in ("capacity", "attempts", "backoff", "max_backoff")
              if k in settings}
    common.setdefault("backoff", 0.05)
    return NatsSink(dict(DEFAULTS["nats_output"], url=url, **settings), **common)


def read_stream(url, stream="SENSOR_ALERTS", **auth):
    """(stream info, [(subject, data)]) of every message in the stream."""
    async def read():
        nc = await nats.connect(url, **auth)
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            msgs = [await js.get_msg(stream, seq)
                    for seq in range(info.state.first_seq, info.state.last_seq + 1)]
            return info, [(m.subject, m.data) for m in msgs]
        finally:
            await nc.close()
    return asyncio.run(read())


def add_stream(url, name, subjects):
    async def add():
        nc = await nats.connect(url)
        try:
            await nc.jetstream().add_stream(name=name, subjects=subjects, max_msgs=1000)
        finally:
            await nc.close()
    asyncio.run(add())


def subject_of(item, template="sensor.alerts.{}"):
    return template.format(item.alert.priority.label().lower())


def send(sink, batch, timeout=10):
    for it in batch:
        assert sink.offer(it)
    sink.close(timeout)
    return sink.stats()


def test_alerts_by_priority_into_a_created_stream_then_reused(nats_server):
    srv = nats_server()
    warn, crit = items(5), items(3, Priority.CRITICAL)
    batch = [x for pair in zip(warn, crit) for x in pair] + warn[3:]
    st = send(nats_sink(srv.url), batch)
    assert {"accepted": 8, "sent": 8, "dropped": 0, "failed": 0, "retries": 0}.items() <= st.items()
    info, msgs = read_stream(srv.url)
    assert info.config.subjects == ["sensor.alerts.*"]
    assert msgs == [(subject_of(it), it.json) for it in batch]
    assert {s for s, _ in msgs} == {"sensor.alerts.warning", "sensor.alerts.critical"}

    more = items(2, Priority.INFORMATIONAL, start=10)     # a second sensor: stream there
    assert send(nats_sink(srv.url), more)["sent"] == 2
    _, msgs = read_stream(srv.url)
    assert msgs[-2:] == [("sensor.alerts.informational", it.json) for it in more]
    assert len(msgs) == 10


def test_an_existing_stream_is_used_as_it_is(nats_server):
    srv = nats_server()
    add_stream(srv.url, "FLEET", ["fleet.>"])
    batch = items(3) + items(2, Priority.ERROR)
    st = send(nats_sink(srv.url, stream="FLEET", subject="fleet.{hostname}.{priority}"), batch)
    assert st["sent"] == 5 and st["failed"] == 0
    info, msgs = read_stream(srv.url, "FLEET")
    assert info.config.subjects == ["fleet.>"] and info.config.max_msgs == 1000
    assert msgs == [(subject_of(it, f"fleet.{HOST}.{{}}"), it.json) for it in batch]


def test_core_publish_without_ack(nats_server):
    srv = nats_server()
    batch = items(4)
    st = send(nats_sink(srv.url, ack=False), batch)
    assert st["sent"] == 4 and st["failed"] == 0
    _, msgs = read_stream(srv.url)
    assert [d for _, d in msgs] == [it.json for it in batch]


def test_ack_with_no_stream_for_the_subject_fails_counted(nats_server):
    srv = nats_server()
    st = send(nats_sink(srv.url, stream="", attempts=2, ack_timeout=1), items(3))
    assert st["sent"] == 0 and st["failed"] == 3


def test_server_restart_is_ridden_out(nats_server):
    srv = nats_server()
    sink = nats_sink(srv.url, ack_timeout=1.5, connect_timeout=0.5, attempts=20,
                     backoff=0.1, max_backoff=0.5)
    before, during, after = items(5), items(10, Priority.CRITICAL), items(5, Priority.ERROR)
    for it in before:
        sink.offer(it)
    assert wait_until(lambda: sink.stats()["sent"] == 5)
    srv.stop()
    for it in during:
        sink.offer(it)
    time.sleep(1.0)
    srv.start()
    for it in after:
        sink.offer(it)
    sink.close(20)
    # Either nats-py's reconnect carried the acks through, or the base retried.
    st = sink.stats()
    assert st["accepted"] == 20 == st["sent"] + st["failed"]
    assert st["sent"] == 20
    _, msgs = read_stream(srv.url)
    bodies = [d for _, d in msgs]
    assert len(bodies) == len(set(bodies))           # retried alerts are not stored twice
    assert set(bodies) == {it.json for it in before + during + after}


def test_an_outage_longer_than_the_retries_is_counted_as_failed(nats_server):
    srv = nats_server()
    sink = nats_sink(srv.url, ack_timeout=0.5, connect_timeout=0.3, attempts=2)
    before, during, after = items(3), items(4, Priority.CRITICAL), items(2, Priority.ERROR)
    for it in before:
        sink.offer(it)
    assert wait_until(lambda: sink.stats()["sent"] == 3)
    srv.stop()
    for it in during:
        sink.offer(it)
    assert wait_until(lambda: sink.stats()["failed"] == 4)
    srv.start()
    for it in after:                                 # the sink opens again by itself
        sink.offer(it)
    sink.close(10)
    st = sink.stats()
    assert st["accepted"] == 9 and st["sent"] == 5 and st["failed"] == 4 and st["retries"] > 0
    _, msgs = read_stream(srv.url)
    assert [d for _, d in msgs] == [it.json for it in before + after]


def test_no_server_fails_counted_and_close_is_bounded():
    sink = nats_sink(f"nats://127.0.0.1:{free_port()}", attempts=3, connect_timeout=0.5)
    t0 = time.monotonic()
    for it in items(50):
        sink.offer(it)
    assert time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    sink.close(3)
    assert time.monotonic() - t0 < 3.5
    st = sink.stats()
    assert st["failed"] == 50 and st["sent"] == 0


def test_user_and_password(nats_server):
    srv = nats_server("--user", "u", "--pass", "p")
    batch = items(3)
    assert send(nats_sink(srv.url, user="u", password="p"), batch)["sent"] == 3
    st = send(nats_sink(srv.url, user="u", password="wrong", attempts=2, connect_timeout=0.5),
              items(4, start=10))
    assert st["sent"] == 0 and st["failed"] == 4
    _, msgs = read_stream(srv.url, user="u", password="p")
    assert [d for _, d in msgs] == [it.json for it in batch]


def test_token(nats_server):
    srv = nats_server("--auth", "s3cret")
    assert send(nats_sink(srv.url, token="s3cret"), items(2))["sent"] == 2
    st = send(nats_sink(srv.url, attempts=1, connect_timeout=0.5), items(2))
    assert st["failed"] == 2


@pytest.mark.skipif(importlib.util.find_spec("nkeys") is not None, reason="nkeys installed")
def test_creds_without_nkeys_is_refused_early(tmp_path):
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n")
    with pytest.raises(ValueError, match="creds_file.*nkeys"):
        NatsSink(dict(DEFAULTS["nats_output"], creds_file=str(creds)))


@pytest.mark.parametrize("settings, key", [
    ({"url": ""}, "url"),
    ({"url": "http://127.0.0.1:4222"}, "url"),
    ({"subject": "sensor.{rule}"}, "subject"),
    ({"subject": "sensor..{priority}"}, "subject"),
    ({"subject": "sensor.>"}, "subject"),
    ({"stream": "a.b"}, "stream"),
    ({"ack_timeout": 0}, "ack_timeout"),
    ({"creds_file": "/nonexistent/x.creds"}, "creds_file"),
    ({"tls_ca": "/nonexistent/ca.pem"}, "tls_ca"),
])
def test_bad_settings_name_the_key(settings, key):
    with pytest.raises(ValueError, match=key):
        NatsSink(dict(DEFAULTS["nats_output"], **settings))
