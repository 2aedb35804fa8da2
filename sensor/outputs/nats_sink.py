"""nats_output (ours): a fleet's alerts into one JetStream stream.

Each alert's JSON document is published on a subject made from a template
(`{priority}`: the priority label in lower case, `{hostname}`: this host), into
a stream that is created when missing.  With `ack`, every alert waits for
JetStream's acknowledgement; without, a core NATS publish and a flush.

nats-py is asyncio: the sink owns an event loop, made in open(), driven by
write() and closed in close_transport(); one thread uses it at a time (the
sink's, or close() once that thread has ended).
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
import ssl
import string
import uuid
from itertools import count
from urllib.parse import urlsplit

from nats.aio.client import Client, RawCredentials
from nats.js.errors import NotFoundError

from ..compile.rule import Priority
from .sink import Sink, SinkError

log = logging.getLogger("sensor.outputs")

# Ride out a short server restart inside one write (its acks then still come),
# but not longer: after ~5 s nats-py gives up, write fails and the base reopens.
RECONNECT_WAIT = 0.5
RECONNECT_ATTEMPTS = 10

_FIELDS = {"priority", "hostname"}
_BAD_SUBJECT_CHARS = set(" \t\r\n*>")


class NatsSink(Sink):
    kind = "nats"

    def __init__(self, section: dict, **common):
        super().__init__("nats", **common)
        self.servers = [_server_url(u) for u in str(section.get("url") or "").split(",")
                        if u.strip()]
        if not self.servers:
            raise ValueError("nats_output.url: no server given")
        self.template = str(section.get("subject") or "")
        self._subjects = _subjects(self.template)
        self.stream = str(section.get("stream") or "")
        if any(c in _BAD_SUBJECT_CHARS | {"."} for c in self.stream):
            raise ValueError(f"nats_output.stream: {self.stream!r} is not a valid stream name")
        # The stream takes the template with each token that varies as a wildcard.
        self.stream_subject = ".".join("*" if _has_field(t) else t
                                       for t in self.template.split("."))
        self.ack = bool(section.get("ack", True))
        self.ack_timeout = _positive(section, "ack_timeout")
        self.connect_timeout = _positive(section, "connect_timeout")
        self._options = self._connect_options(section)
        self._loop = self._nc = self._js = None
        # Each alert's Nats-Msg-Id: the same on every retry of it, so that
        # JetStream's duplicate window drops a copy stored before a lost ack.
        self._id_prefix = uuid.uuid4().hex[:16] + "-"
        self._id_seq = count()
        self._ids: dict = {}

    def _connect_options(self, section: dict) -> dict:
        def path(key: str) -> str:
            value = str(section.get(key) or "")
            if value and not os.path.isfile(value):
                raise ValueError(f"nats_output.{key}: {value!r} not found")
            return value

        def secret(key: str) -> str:
            # Read now: the output process may have dropped the privileges to
            # read it by the time it connects.
            name = path(key)
            if not name:
                return ""
            if importlib.util.find_spec("nkeys") is None:
                raise ValueError(f"nats_output.{key}: needs the Python package 'nkeys'")
            try:
                with open(name) as f:
                    return f.read()
            except OSError as e:
                raise ValueError(f"nats_output.{key}: {e}") from None

        creds, seed = secret("creds_file"), secret("nkeys_seed")
        options = dict(servers=self.servers, name=f"sensor@{socket.gethostname()}",
                       connect_timeout=self.connect_timeout,
                       reconnect_time_wait=RECONNECT_WAIT,
                       max_reconnect_attempts=RECONNECT_ATTEMPTS,
                       error_cb=_log_nats_error,
                       user=section.get("user") or None, password=section.get("password") or None,
                       token=section.get("token") or None,
                       user_credentials=RawCredentials(creds) if creds else None,
                       nkeys_seed_str=seed.strip() or None)
        ca, cert, key = path("tls_ca"), path("tls_cert"), path("tls_key")   # read now, too
        if ca or cert or any(s.startswith("tls://") for s in self.servers):
            ctx = ssl.create_default_context()
            try:
                if ca:
                    ctx.load_verify_locations(ca)
                if cert:
                    ctx.load_cert_chain(cert, key or None)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"nats_output.tls_ca/tls_cert/tls_key: {e}") from None
            options["tls"] = ctx
        return options

    # --- Sink hooks -------------------------------------------------------------
    def open(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._connect())
        except BaseException:
            self.close_transport()       # the base only closes what opened
            raise

    def write(self, items: list) -> None:
        publish = self._publish_acked if self.ack else self._publish_core
        try:
            self._loop.run_until_complete(publish(items))
        except asyncio.CancelledError as e:
            # A BaseException: let the base retry it rather than end its thread.
            raise SinkError("publish cancelled") from e

    def close_transport(self) -> None:
        loop, nc = self._loop, self._nc
        self._loop = self._nc = self._js = None
        if loop is None:
            return
        try:
            if nc is not None:
                loop.run_until_complete(asyncio.wait_for(nc.close(), self.connect_timeout))
        except Exception as e:      # noqa: BLE001 - closing must not raise
            log.debug("nats output: close: %r", e)
        try:
            loop.run_until_complete(_cancel_other_tasks())   # nats-py's leftovers
        except Exception as e:      # noqa: BLE001
            log.debug("nats output: close: %r", e)
        finally:
            loop.close()

    # --- in the sink's event loop ---------------------------------------------------
    async def _connect(self) -> None:
        nc = self._nc = Client()
        # nats-py retries a refused server by itself: bound the whole attempt.
        budget = self.connect_timeout * len(self.servers)
        try:
            await asyncio.wait_for(nc.connect(**self._options), budget)
        except asyncio.TimeoutError:
            raise ConnectionError(f"cannot connect to {','.join(self.servers)}: "
                                  f"{nc.last_error or 'timed out'}") from None
        js = nc.jetstream(timeout=self.ack_timeout)
        if self.stream:
            await self._ensure_stream(js)
        self._js = js

    async def _ensure_stream(self, js) -> None:
        try:
            await js.stream_info(self.stream)       # there already: used as it is
        except NotFoundError:
            await js.add_stream(name=self.stream, subjects=[self.stream_subject])
            log.info("nats output: created stream %s for %s", self.stream, self.stream_subject)

    async def _publish_acked(self, items: list) -> None:
        acks, error = [], None
        try:
            for item, msg_id in zip(items, self._msg_ids(items)):
                acks.append(await self._js.publish_async(
                    self._subjects[item.alert.priority], item.json,
                    wait_stall=self.ack_timeout, stream=self.stream or None,
                    headers={"Nats-Msg-Id": msg_id}))
        except Exception as e:      # noqa: BLE001 - those published so far may still be acked
            error = e
        if acks:
            await asyncio.wait(acks, timeout=self.ack_timeout)
        outcomes = [_outcome(ack) for ack in acks]
        for ack in acks:
            ack.cancel()            # no longer awaited; frees nats-py's pending slot
        delivered = next((i for i, o in enumerate(outcomes) if o is not None), len(acks))
        if delivered < len(items):
            reason = outcomes[delivered] if delivered < len(acks) else error
            raise SinkError(f"publish: {reason!r}", delivered=delivered)

    async def _publish_core(self, items: list) -> None:
        try:
            for item, msg_id in zip(items, self._msg_ids(items)):
                await self._nc.publish(self._subjects[item.alert.priority], item.json,
                                       headers={"Nats-Msg-Id": msg_id})
            await self._nc.flush(timeout=self.ack_timeout)
        except Exception as e:      # noqa: BLE001 - nothing is confirmed before the flush
            raise SinkError(f"publish: {e!r}", delivered=0) from e

    def _msg_ids(self, items: list) -> list:
        # Keyed by id(); the previous batch's items stay referenced, so an id()
        # cannot be reused by a new alert while its entry is looked up.
        previous, self._ids = self._ids, {}
        for item in items:
            entry = previous.get(id(item)) or (item, f"{self._id_prefix}{next(self._id_seq)}")
            self._ids[id(item)] = entry
        return [self._ids[id(item)][1] for item in items]


def _server_url(text: str) -> str:
    url = text.strip()
    if "://" not in url:
        url = "nats://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise ValueError(f"nats_output.url: {text.strip()!r} is not a nats:// or tls:// URL")
    return url


def _has_field(text: str) -> bool:
    return any(name is not None for _, name, _, _ in string.Formatter().parse(text))


def _subjects(template: str) -> dict:
    """The subject of each priority, checked to be a valid NATS subject."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise ValueError(f"nats_output.subject: {template!r}: {e}") from None
    unknown = names - _FIELDS
    if unknown:
        raise ValueError(f"nats_output.subject: {{{sorted(unknown)[0]}}} is not supported "
                         f"(only {{priority}} and {{hostname}})")
    # A host name's dots would add subject tokens.
    host = socket.gethostname().replace(".", "_")
    subjects = {}
    for p in Priority:
        try:
            subject = template.format(priority=p.label().lower(), hostname=host)
        except (ValueError, IndexError, KeyError) as e:
            raise ValueError(f"nats_output.subject: {template!r}: {e!r}") from None
        if not subject or "" in subject.split(".") or _BAD_SUBJECT_CHARS & set(subject):
            raise ValueError(f"nats_output.subject: {subject!r} is not a valid NATS subject")
        subjects[p] = subject
    return subjects


async def _cancel_other_tasks() -> None:
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _outcome(ack: asyncio.Future):
    """None when acknowledged, else what went wrong (retrieved, so never reported
    by asyncio as an exception nobody looked at)."""
    if not ack.done():
        return TimeoutError("no acknowledgement in time")
    if ack.cancelled():
        return asyncio.CancelledError()
    return ack.exception()


def _positive(section: dict, key: str) -> float:
    try:
        value = float(section.get(key) or 0)
    except (TypeError, ValueError):
        value = 0
    if value <= 0:
        raise ValueError(f"nats_output.{key}: must be a number > 0")
    return value


async def _log_nats_error(e: Exception) -> None:
    # nats-py's default logs every reconnect failure as an error with a traceback;
    # the sink reports delivery trouble itself.
    log.debug("nats output: %r", e)
