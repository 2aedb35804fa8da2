"""Falco's http_output: each alert's JSON document POSTed to a URL (what
Falcosidekick accepts), over HTTP or HTTPS, with the standard library.

One POST per alert; a 2xx answer means delivered.  With keep_alive one
connection is reused, so every response body is read to the end.
"""
from __future__ import annotations

import gzip
import http.client
import logging
import os
import ssl
from urllib.parse import urlsplit

from .sink import Sink, SinkError

log = logging.getLogger("sensor.outputs")

# What a reused connection raises when the server closed it while it was idle.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpSink(Sink):
    kind = "http"

    def __init__(self, section: dict, **common):
        super().__init__("http", **common)
        self.url = str(section.get("url") or "")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"http_output.url: need an http:// or https:// URL, got {self.url!r}")
        self._https = parts.scheme == "https"
        try:
            self._host = parts.hostname
            self._port = parts.port or (443 if self._https else 80)   # explicit: IPv6 hosts
        except ValueError as e:
            raise ValueError(f"http_output.url: {e}") from None
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # For messages: without user info or query, which may hold secrets.
        self._where = f"{parts.scheme}://{parts.hostname}:{self._port}{parts.path or '/'}"
        try:
            self.timeout = float(section.get("timeout", 5.0))
        except (TypeError, ValueError):
            self.timeout = 0
        if self.timeout <= 0:
            raise ValueError("http_output.timeout: must be a number > 0")
        self.keep_alive = bool(section.get("keep_alive", True))
        self.compress = bool(section.get("compress_uploads", False))
        self.echo = bool(section.get("echo", False))
        self._headers = {"Content-Type": "application/json",
                         "User-Agent": str(section.get("user_agent") or "sensor")}
        if self.compress:
            self._headers["Content-Encoding"] = "gzip"
        if not self.keep_alive:
            self._headers["Connection"] = "close"
        # Made now, also for http:// (to check the files), and while the
        # privileges to read a client key are still there.
        self._ssl = _ssl_context(section)
        self._conn = None

    # --- Sink hooks -------------------------------------------------------------
    def open(self) -> None:
        self._conn = None          # connected by the first POST

    def write(self, items: list) -> None:
        for done, item in enumerate(items):
            body = gzip.compress(item.json, 6, mtime=0) if self.compress else item.json
            try:
                status, reason, answer = self._post(body)
            except (OSError, http.client.HTTPException) as e:
                raise SinkError(f"POST {self._where}: {e!r}", delivered=done) from e
            if self.echo:
                log.info("http output: %d %s", status, answer.decode("utf-8", "replace"))
            if not 200 <= status < 300:
                raise SinkError(f"POST {self._where}: HTTP {status} {reason}", delivered=done)

    def close_transport(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- one request --------------------------------------------------------------
    def _connection(self):
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _post(self, body: bytes) -> tuple:
        reused = self._conn is not None
        if not reused:
            self._conn = self._connection()
        try:
            return self._exchange(body)
        except _STALE:
            if not reused:
                raise
            # The server dropped the idle keep-alive connection: this is not a
            # delivery failure, so try once on a fresh one before reporting it.
            self.close_transport()
            self._conn = self._connection()
            return self._exchange(body)

    def _exchange(self, body: bytes) -> tuple:
        conn = self._conn
        conn.request("POST", self._target, body, self._headers)
        response = conn.getresponse()
        answer = response.read()           # all of it, or the connection cannot be reused
        if response.will_close or not self.keep_alive:
            self.close_transport()
        return response.status, response.reason, answer


def _ssl_context(section: dict) -> ssl.SSLContext:
    """The system CAs plus ca_cert / ca_bundle / ca_path; insecure skips checks;
    mtls adds the client's certificate."""
    def path(key: str, check=os.path.isfile) -> str:
        value = str(section.get(key) or "")
        if value and not check(value):
            raise ValueError(f"http_output.{key}: {value!r} not found")
        return value

    ca_cert, ca_bundle = path("ca_cert"), path("ca_bundle")
    ca_path = path("ca_path", os.path.isdir)
    ctx = ssl.create_default_context()
    if section.get("insecure"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for key, cafile, capath in (("ca_cert", ca_cert, None), ("ca_bundle", ca_bundle, None),
                                ("ca_path", None, ca_path)):
        if cafile or capath:
            try:
                ctx.load_verify_locations(cafile, capath)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"http_output.{key}: {e}") from None
    if section.get("mtls"):
        cert, key = path("client_cert"), path("client_key")
        if not cert:
            raise ValueError("http_output.client_cert: needed with mtls")
        try:
            ctx.load_cert_chain(cert, key or None)
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"http_output.client_cert/client_key: {e}") from None
    return ctx
