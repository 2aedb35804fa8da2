"""SyslogSink: messages received by real sockets bound by the test."""
from __future__ import annotations

import os
import re
import socket
import threading
import time

import pytest

from sensor.compile.rule import Priority
from sensor.config import Config
from sensor.outputs.alert import Alert
from sensor.outputs.formats import Formatter
from sensor.outputs.sink import Rendered
from sensor.outputs.syslog_sink import SyslogSink

FORMATTER = Formatter(Config())
TS = 1_700_000_000_123_456_789          # 2023-11-14T22:13:20.123456789Z
RFC5424 = re.compile(r"<(\d+)>1 (\S+) (\S+) sensor (\d+) - - (.*)", re.S)


def rendered(line: str, priority=Priority.WARNING, ts: int = TS) -> Rendered:
    alert = Alert(ts=ts, rule="r", priority=priority, source="syscall", tags=("a",),
                  output="text", output_fields={"proc.name": "cat"}, num=1)
    return Rendered(alert, line, FORMATTER)


def local_stamp(ts: int) -> str:
    t = time.localtime(ts // 1_000_000_000)
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[t.tm_mon - 1]
    return f"{month} {t.tm_mday:2d} {time.strftime('%H:%M:%S', t)}"


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.005)


@pytest.fixture
def unix_dgram(tmp_path):
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(3.0)
    yield path, server
    server.close()


@pytest.mark.parametrize("facility, priority, pri", [
    ("user", Priority.WARNING, 12),
    ("local3", Priority.CRITICAL, 154),
    ("kern", Priority.EMERGENCY, 0),
    ("authpriv", Priority.DEBUG, 87),
])
def test_local_format_and_pri(unix_dgram, facility, priority, pri):
    path, server = unix_dgram
    sink = SyslogSink({"socket": path, "facility": facility})
    sink.offer(rendered("12:00:00.0: Warning hello ü", priority))
    sink.offer(rendered("second", priority))
    sink.close(3.0)
    head = f"<{pri}>{local_stamp(TS)} sensor[{os.getpid()}]: "
    assert server.recv(65536).decode() == head + "12:00:00.0: Warning hello ü"
    assert server.recv(65536).decode() == head + "second"
    assert sink.stats()["sent"] == 2


def test_local_day_is_space_padded(unix_dgram):
    path, server = unix_dgram
    early_in_month = int(time.mktime((2024, 3, 5, 9, 7, 3, 0, 0, -1))) * 1_000_000_000
    sink = SyslogSink({"socket": path})
    sink.offer(rendered("x", ts=early_in_month))
    sink.close(3.0)
    assert server.recv(65536).decode() == f"<12>Mar  5 09:07:03 sensor[{os.getpid()}]: x"


def test_long_message_is_truncated_to_one_datagram(unix_dgram):
    path, server = unix_dgram
    sink = SyslogSink({"socket": path})
    sink.offer(rendered("é" * 40000))          # 80000 bytes
    sink.close(3.0)
    data = server.recv(100_000)
    assert 65533 <= len(data) <= 65535
    data.decode()                               # no character cut in two
    assert sink.stats()["sent"] == 1


def test_local_stream_socket_fallback(tmp_path):
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(3.0)
    sink = SyslogSink({"socket": path})
    sink.offer(rendered("a"))
    sink.offer(rendered("b"))
    conn, _ = server.accept()
    sink.close(3.0)
    conn.settimeout(3.0)
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    conn.close()
    server.close()
    head = f"<12>{local_stamp(TS)} sensor[{os.getpid()}]: "
    assert received.decode() == f"{head}a\n{head}b\n"


def test_missing_local_socket_counts_failures(tmp_path):
    sink = SyslogSink({"socket": str(tmp_path / "nothing")}, attempts=2, backoff=0.01)
    sink.offer(rendered("x"))
    sink.close(2.0)
    assert sink.stats()["failed"] == 1


def check_rfc5424(message: str, pri: int, line: str) -> None:
    m = RFC5424.fullmatch(message)
    assert m, message
    assert int(m.group(1)) == pri
    assert m.group(2) == "2023-11-14T22:13:20.123456Z"
    assert m.group(3) == socket.gethostname()
    assert int(m.group(4)) == os.getpid()
    assert m.group(5) == line


def test_remote_udp():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(3.0)
    port = server.getsockname()[1]
    sink = SyslogSink({"host": "127.0.0.1", "port": port, "protocol": "udp",
                       "facility": "local7"})
    sink.offer(rendered('{"rule": "r"}', Priority.ERROR))
    sink.offer(rendered("plain", Priority.NOTICE))
    sink.close(3.0)
    check_rfc5424(server.recv(65536).decode(), 23 * 8 + 3, '{"rule": "r"}')
    check_rfc5424(server.recv(65536).decode(), 23 * 8 + 5, "plain")
    server.close()


class OctetCountingServer:
    """Accepts connections one after the other and parses `LEN SP MSG` frames;
    the first connection is closed after its first message."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5.0)
        self.port = self.listener.getsockname()[1]
        self.messages = []
        self.connections = 0
        self.first_closed = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                with conn:
                    conn.settimeout(5.0)
                    self.read_frames(conn, limit=1 if self.connections == 1 else None)
                self.first_closed.set()
        except OSError:
            pass            # the listener was closed: done

    def read_frames(self, conn, limit):
        buf = b""
        while limit is None or limit > 0:
            while b" " not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            length, _, buf = buf.partition(b" ")
            while len(buf) < int(length):
                chunk = conn.recv(65536)
                assert chunk, "connection closed inside a frame"
                buf += chunk
            self.messages.append(buf[:int(length)].decode())
            buf = buf[int(length):]
            if limit is not None:
                limit -= 1

    def stop(self):
        self.listener.shutdown(socket.SHUT_RDWR)    # wakes the accept() (close does not)
        self.listener.close()
        self.thread.join(5.0)


def test_remote_tcp_reconnects_after_the_server_closes():
    server = OctetCountingServer()
    sink = SyslogSink({"host": "127.0.0.1", "port": server.port, "protocol": "tcp",
                       "facility": "daemon"}, backoff=0.01)
    sink.offer(rendered("first ü"))
    assert server.first_closed.wait(5.0)
    lines = [f"later {i}" for i in range(50)]
    for line in lines:
        sink.offer(rendered(line, Priority.INFORMATIONAL))
    sink.close(3.0)
    wait_for(lambda: len(server.messages) == 51)
    server.stop()
    stats = sink.stats()
    assert stats["accepted"] == stats["sent"] + stats["failed"] + stats["dropped"] == 51
    check_rfc5424(server.messages[0], 3 * 8 + 4, "first ü")
    for message, line in zip(server.messages[1:], lines):
        check_rfc5424(message, 3 * 8 + 6, line)
    assert server.connections == 2


def test_remote_tcp_nobody_listening_counts_failures():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                               # a port with no listener
    sink = SyslogSink({"host": "127.0.0.1", "port": port, "protocol": "tcp"},
                      attempts=2, backoff=0.01)
    sink.offer(rendered("x"))
    sink.close(2.0)
    assert sink.stats()["failed"] == 1


@pytest.mark.parametrize("section, key", [
    ({"protocol": "sctp"}, "protocol"),
    ({"facility": "local8"}, "facility"),
    ({"facility": "nope"}, "facility"),
    ({"port": 0}, "port"),
    ({"port": 70000}, "port"),
    ({"port": "514"}, "port"),
    ({"port": True}, "port"),
    ({"host": "", "socket": ""}, "socket"),
])
def test_bad_config(section, key):
    with pytest.raises(ValueError, match=f"syslog_output.{key}"):
        SyslogSink(section)
