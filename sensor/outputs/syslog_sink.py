"""syslog_output: alerts to the local syslog socket, as Falco does, or to a remote
collector over UDP or TCP.

Falco's priorities are syslog's severities, so PRI = facility * 8 + priority.

Local (host ""): one datagram per alert on the unix socket (/dev/log), in the
form glibc's syslog(3) sends: `<PRI>Mmm dd HH:MM:SS sensor[PID]: LINE`, local
time.  Should the socket be a stream one, messages end with a newline.

Remote: RFC 5424, `<PRI>1 TIMESTAMP HOSTNAME sensor PID - - LINE` with the
alert's time in UTC to the microsecond; one datagram per alert over UDP, and
over TCP one connection with RFC 6587 octet counting (`LEN SP MSG`).
"""
from __future__ import annotations

import errno
import os
import select
import socket
import time

from .sink import Sink, SinkError

APP_NAME = "sensor"
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
              "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
              **{f"local{i}": 16 + i for i in range(8)}}
# Not the locale's month names: syslog's are always English.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
UNIX_DATAGRAM_MAX = 65535
UDP_DATAGRAM_MAX = 65507      # 65535 less the IPv4 and UDP headers


class SyslogSink(Sink):
    kind = "syslog"
    timeout = 10.0      # seconds to connect or to send one message

    def __init__(self, section: dict, **common):
        super().__init__("syslog", **common)
        self.host = str(section.get("host") or "").strip()
        self.protocol = str(section.get("protocol", "udp")).strip().lower()
        if self.protocol not in ("udp", "tcp"):
            raise ValueError(f"syslog_output.protocol: {self.protocol!r} is not udp or tcp")
        facility = str(section.get("facility", "user")).strip().lower()
        if facility not in FACILITIES:
            raise ValueError(f"syslog_output.facility: unknown facility {facility!r}")
        self.facility = FACILITIES[facility]
        port = section.get("port", 514)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"syslog_output.port: {port!r} is not a port number (1-65535)")
        self.port = port
        self.socket_path = str(section.get("socket", "/dev/log") or "")
        if not self.host and not self.socket_path:
            raise ValueError("syslog_output.socket: empty (and no host)")
        self.hostname = socket.gethostname() or "-"
        self._sock = None
        self._stream = False        # the connection is a byte stream, not datagrams

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.protocol}" if self.host else self.socket_path

    # --- transport -----------------------------------------------------------------
    def open(self) -> None:
        self._sock = self._connect_remote() if self.host else self._connect_local()

    def _connect_local(self) -> socket.socket:
        self._stream = False
        sock = self._connected(socket.AF_UNIX, socket.SOCK_DGRAM, 0, self.socket_path,
                               keep_on=errno.EPROTOTYPE)
        if sock is None:      # a stream socket (syslog-ng's unix-stream, say)
            self._stream = True
            sock = self._connected(socket.AF_UNIX, socket.SOCK_STREAM, 0, self.socket_path)
        return sock

    def _connect_remote(self) -> socket.socket:
        self._stream = self.protocol == "tcp"
        kind = socket.SOCK_STREAM if self._stream else socket.SOCK_DGRAM
        error = None
        for family, type_, proto, _, addr in socket.getaddrinfo(self.host, self.port,
                                                                 type=kind):
            try:
                return self._connected(family, type_, proto, addr)
            except OSError as e:
                error = e
        raise error

    def _connected(self, family, type_, proto, addr, keep_on: int = None):
        """A socket connected to addr; None when connect fails with errno keep_on."""
        sock = socket.socket(family, type_, proto)
        sock.settimeout(self.timeout)
        try:
            sock.connect(addr)
            return sock
        except OSError as e:
            sock.close()
            if keep_on is not None and e.errno == keep_on:
                return None
            raise

    def close_transport(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()

    # --- delivery ------------------------------------------------------------------
    def write(self, items: list) -> None:
        # Collectors close idle connections; reconnecting before sending into a
        # closed connection avoids losing a message to it unseen.
        if self._stream and _peer_closed(self._sock):
            self.close_transport()
            self.open()
        sock, pid = self._sock, os.getpid()
        for i, r in enumerate(items):
            message = self.message(r, pid)
            try:
                if self._stream:
                    sock.sendall(message)
                else:
                    sock.send(message)
            except OSError as e:
                raise SinkError(f"{self.where}: {e.strerror or e}", delivered=i) from None

    def message(self, r, pid: int) -> bytes:
        a = r.alert
        pri = self.facility * 8 + int(a.priority)
        if self.host:
            head = f"<{pri}>1 {rfc3339_utc(a.ts)} {self.hostname} {APP_NAME} {pid} - - "
        else:
            head = f"<{pri}>{bsd_time(a.ts)} {APP_NAME}[{pid}]: "
        data = (head + r.line).encode("utf-8", "replace")
        if not self._stream:
            return _truncate(data, UDP_DATAGRAM_MAX if self.host else UNIX_DATAGRAM_MAX)
        if self.host:
            return b"%d %s" % (len(data), data)
        return data + b"\n"


def bsd_time(ts: int) -> str:
    """`Mmm dd HH:MM:SS` (day padded with a space), local time: syslog(3)'s stamp."""
    t = time.localtime(ts // 1_000_000_000)
    return f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def rfc3339_utc(ts: int) -> str:
    sec, ns = divmod(ts, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns // 1000:06d}Z"


def _truncate(data: bytes, limit: int) -> bytes:
    if len(data) <= limit:
        return data
    # Drop a character the cut split in two.
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


def _peer_closed(sock: socket.socket) -> bool:
    """True when the other end closed (or reset) the connection.  A syslog
    collector sends nothing, so a readable socket means end of stream."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
