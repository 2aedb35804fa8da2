"""HttpSink against a real HTTP(S) server in a thread: what arrives, retries,
losses counted, the queue bound, TLS verification and mTLS."""
from __future__ import annotations

import gzip
import json
import logging
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sensor.compile.rule import Priority
from sensor.config import DEFAULTS, Config
from sensor.outputs.alert import Alert
from sensor.outputs.formats import Formatter
from sensor.outputs.http_sink import HttpSink
from sensor.outputs.sink import Rendered

FORMATTER = Formatter(Config())
TS = 1_700_000_000_123_456_789


def items(n: int, priority=Priority.WARNING) -> list:
    out = []
    for i in range(n):
        a = Alert(ts=TS + i, rule="r", priority=priority, source="syscall", tags=("a",),
                  output=f"text {i}", output_fields={"proc.name": "cat", "i": i}, num=i + 1)
        out.append(Rendered(a, FORMATTER.text(a), FORMATTER))
    return out


def wait_until(cond, timeout=5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Server:
    """Records each accepted POST as (path, headers, body, client port).  Answers
    500 to the first `fail_first` POSTs, sleeps `delay` before answering, and with
    `hang_up` closes the connection after each answer without saying so."""

    def __init__(self, fail_first=0, delay=0.0, tls: ssl.SSLContext = None, hang_up=False):
        self.posts, self.calls, self.lock = [], 0, threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"     # keep-alive unless told otherwise
            disable_nagle_algorithm = True   # headers and body are two writes

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with server.lock:
                    server.calls += 1
                    failing = server.calls <= fail_first
                time.sleep(delay)
                if not failing:
                    with server.lock:
                        server.posts.append((self.path, self.headers, body,
                                             self.client_address[1]))
                answer = b'{"status":"ok"}'
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                if hang_up:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/alerts"

    def bodies(self) -> list:
        with self.lock:
            return [p[2] for p in self.posts]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = []

    def start(**kw):
        started.append(Server(**kw))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def http_sink(url, **settings):
    common = {k: settings.pop(k) for k in ("capacity", "attempts", "backoff", "max_backoff")
              if k in settings}
    common.setdefault("backoff", 0.01)
    return HttpSink(dict(DEFAULTS["http_output"], url=url, **settings), **common)


def offer_all(sink, batch):
    for it in batch:
        assert sink.offer(it)


def test_posts_each_alert_json_in_order_on_one_connection(servers):
    srv = servers()
    sink = http_sink(srv.url + "?src=t", user_agent="sensor-test/1")
    batch = items(20) + items(5, Priority.CRITICAL)
    offer_all(sink, batch)
    sink.close(5)
    assert srv.bodies() == [it.json for it in batch]
    path, headers, body, _ = srv.posts[0]
    assert path == "/alerts?src=t"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "sensor-test/1"
    assert "Content-Encoding" not in headers
    doc = json.loads(body)
    assert doc["priority"] == "Warning" and doc["rule"] == "r"
    assert doc["output_fields"] == {"proc.name": "cat", "i": 0}
    assert len({p[3] for p in srv.posts}) == 1          # keep_alive: one connection
    expected = {"accepted": 25, "sent": 25, "dropped": 0, "failed": 0, "retries": 0}
    assert expected.items() <= sink.stats().items()


def test_gzip_and_a_connection_per_post(servers):
    srv = servers()
    sink = http_sink(srv.url, compress_uploads=True, keep_alive=False)
    batch = items(5)
    offer_all(sink, batch)
    sink.close(5)
    assert [gzip.decompress(b) for b in srv.bodies()] == [it.json for it in batch]
    assert all(p[1]["Content-Encoding"] == "gzip" for p in srv.posts)
    assert len({p[3] for p in srv.posts}) == 5
    assert sink.stats()["sent"] == 5


def test_server_closing_idle_connections_is_not_a_failure(servers):
    srv = servers(hang_up=True)
    sink = http_sink(srv.url)
    for n, it in enumerate(items(4), 1):
        sink.offer(it)
        assert wait_until(lambda: len(srv.posts) == n)
        time.sleep(0.05)                # let the server's close reach us
    sink.close(5)
    assert len({p[3] for p in srv.posts}) == 4       # each POST found its connection closed
    assert sink.stats()["retries"] == 0 and sink.stats()["failed"] == 0


def test_server_errors_are_retried_until_delivered(servers):
    srv = servers(fail_first=3)
    sink = http_sink(srv.url, attempts=10)
    batch = items(10)
    offer_all(sink, batch)
    sink.close(10)
    assert srv.bodies() == [it.json for it in batch]
    st = sink.stats()
    assert st["retries"] > 0 and st["failed"] == 0 and st["sent"] == 10


def test_dead_endpoint_gives_up_and_counts_without_blocking_offer():
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = http_sink(f"http://127.0.0.1:{port}/", attempts=2, backoff=0.01, timeout=1)
    t0 = time.monotonic()
    offer_all(sink, items(1000))
    assert time.monotonic() - t0 < 1.0
    sink.close(10)
    st = sink.stats()
    assert st["failed"] == 1000 and st["sent"] == 0 and st["accepted"] == 1000


def test_queue_bound_drops_and_counts(servers):
    srv = servers(delay=0.05)
    sink = http_sink(srv.url, capacity=10)
    for it in items(100):
        sink.offer(it)
    sink.close(15)
    st = sink.stats()
    assert st["dropped"] > 0
    assert st["accepted"] + st["dropped"] == 100
    assert st["sent"] == st["accepted"] == len(srv.posts) and st["failed"] == 0


def test_bad_settings_name_the_key(tmp_path):
    for section, key in (({"url": ""}, "url"), ({"url": "ftp://h/"}, "url"),
                         ({"url": "https://h/", "ca_cert": str(tmp_path / "no.pem")}, "ca_cert"),
                         ({"url": "https://h/", "ca_path": str(tmp_path / "nodir")}, "ca_path"),
                         ({"url": "https://h/", "mtls": True}, "client_cert"),
                         ({"url": "http://h/", "timeout": 0}, "timeout")):
        with pytest.raises(ValueError, match=key):
            HttpSink(dict(DEFAULTS["http_output"], **section))


# --- TLS -----------------------------------------------------------------------------

def self_signed(d, name):
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return {"server": self_signed(d, "server"), "client": self_signed(d, "client")}


def server_tls(certs, client_ca=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs["server"])
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


@pytest.mark.parametrize("settings, delivered", [
    ({"ca_cert": "server"}, True),
    ({"ca_bundle": "server"}, True),
    ({}, False),                      # the system CAs do not know a self-signed cert
    ({"insecure": True}, True),
])
def test_https_verification(servers, certs, settings, delivered):
    srv = servers(tls=server_tls(certs))
    settings = {k: certs[v][0] if v == "server" else v for k, v in settings.items()}
    sink = http_sink(srv.url, attempts=1, **settings)
    offer_all(sink, items(3))
    sink.close(5)
    st = sink.stats()
    assert (len(srv.posts), st["sent"], st["failed"]) == ((3, 3, 0) if delivered else (0, 0, 3))


@pytest.mark.parametrize("mtls", [True, False])
def test_mtls(servers, certs, mtls):
    srv = servers(tls=server_tls(certs, client_ca=certs["client"][0]))
    cert, key = certs["client"]
    sink = http_sink(srv.url, attempts=1, ca_cert=certs["server"][0], mtls=mtls,
                     client_cert=cert, client_key=key)
    offer_all(sink, items(2))
    sink.close(5)
    assert sink.stats()["sent"] == (2 if mtls else 0)
    assert sink.stats()["failed"] == (0 if mtls else 2)


def test_echo_logs_the_answer(servers, caplog):
    srv = servers()
    sink = http_sink(srv.url, echo=True)
    with caplog.at_level(logging.INFO, logger="sensor.outputs"):
        offer_all(sink, items(1))
        sink.close(5)
    assert '{"status":"ok"}' in caplog.text
