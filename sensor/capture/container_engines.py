"""Container metadata from the runtimes' APIs, for live capture.

The state engine knows a container by the id in its processes' cgroups
(cgroups.py); its name, image and privileges come from the runtime, over a
Docker-compatible API on a unix socket (Docker's, or `podman system
service`'s):

    GET /containers/<id>/json   Name, Config.Image, Image, HostConfig.Privileged,
                                Created, Mounts; read as libsinsp's docker engine
                                reads them (container_engine/docker/async_source.cpp)
    GET /images/<id>/json       only when the container was started from an image id
                                (no name to split): its RepoTags/RepoDigests
    GET /events                 followed: containers created, started or renamed are
                                looked up at once (often before their first process)

Lookups never block capture: threads of the capture process do them
(MetadataFetcher); the capture thread applies their results to the Containers
table between batches (ContainerMetadata.apply), where the state engine owns
the table.  The table lives in shared memory, so forked workers see the
metadata as soon as it is applied.  Each id is looked up when first seen,
again after a miss or an error (backing off: 50 ms, 100 ms ... 6.4 s, eight
tries), and refreshed every `ttl`; an id the runtime no longer knows is
forgotten (no more refreshes; its row keeps what was known).  Until its
metadata arrives a container's fields read as Falco's do then: container.id
set, container.name, image, repository, tag and privileged <NA>.

Alerts of a container seen for the first time would then nearly always miss
its name (a `podman run ... cat` execs cat ~30 ms after the container's first
process, faster than any lookup).  So batches with rows of a container whose
first lookup is in flight are held back from rule evaluation, in order, for at
most `max_wait` (the capture keeps draining the ring and running the state
engine meanwhile): MetadataGate.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import socket
import threading
import time
from calendar import timegm
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import quote

import numpy as np

from ..config import parse_duration

DEFAULT_SOCKETS = {"docker": "/var/run/docker.sock", "podman": "/run/podman/podman.sock"}
KNOWN_MAX = 4096                  # metadata kept for containers no process was seen in
MISS_TRIES = 8                    # first lookups: now, then 50 ms, 100 ms ... 6.4 s later


@dataclass
class ContainerInfo:
    """What the table holds of a container (None: unknown, shown as <NA>)."""
    name: Optional[str] = None
    image: Optional[str] = None
    repository: Optional[str] = None
    tag: Optional[str] = None
    privileged: Optional[bool] = None
    created_s: int = 0
    mounts: list = field(default_factory=list)          # [(source, destination)]
    partial: bool = False        # from the engine's event only (no lookup succeeded)


# --- image names ---------------------------------------------------------------------------------

def split_image(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference, as libsinsp's
    split_container_image (split_repo=false) does: the first '/'-separated
    part is a registry host (with its port, "localhost:5000/a/b:1") kept in the
    repository; then "@digest", then ":tag" at the first ':' of the rest.

        nginx                          -> nginx, "", ""
        docker.io/library/nginx:1.25   -> docker.io/library/nginx, 1.25, ""
        localhost:5000/app:2@sha256:ab -> localhost:5000/app, 2, sha256:ab
    """
    host, sep, rest = image.partition("/")
    repo = host + "/" if sep else ""
    if not sep:
        rest = image
    name_tag, at, digest = rest.partition("@")
    if not at:
        digest = ""
    name, colon, tag = name_tag.partition(":")
    if not colon:
        tag = ""
    return repo + name, tag, digest


_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def epoch_seconds(text: str) -> int:
    """Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00.123456789Z"),
    0 when it is not one (Docker's zero time "0001-01-01T00:00:00Z" is 0 too)."""
    m = _TIME.match(text or "")
    if not m:
        return 0
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    t = timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(7)
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        hh, mm = int(tz[1:3]), int(tz[-2:])
        t -= sign * (hh * 3600 + mm * 60)
    return max(t, 0)


def parse_container(doc: dict, image_doc: Optional[Callable[[str], Optional[dict]]] = None
                    ) -> ContainerInfo:
    """A container's metadata from its /containers/<id>/json document.
    image_doc(image_id): the /images/<id>/json document, asked only when the
    container was started from an image id (its name is then found there)."""
    config = doc.get("Config") or {}
    host = doc.get("HostConfig") or {}
    info = ContainerInfo()
    name = doc.get("Name")
    if isinstance(name, str):
        info.name = name[1:] if name.startswith("/") else name
    image = str(config.get("Image") or "")
    info.image = image or None
    image_field = str(doc.get("Image") or "")
    tag = ""
    if "/" not in image_field:
        # Docker (and podman's compat API): "Image" is the image id
        image_id = image_field.partition(":")[2] or image_field
        by_id = bool(image) and (image_id.startswith(image) or image_field.startswith(image))
        repo = ""
        if not by_id:
            repo, tag, _ = split_image(image)
        elif image_doc is not None and image_id:
            repo, tag = _repo_tag_of_image(image_doc(image_id))
        info.repository = repo or None
    else:
        # an image name in "Image" (some podman versions)
        repo, tag, _ = split_image(image_field)
        info.repository = repo or None
        if info.image is None:
            info.image = image_field
    info.tag = tag or "latest"
    priv = host.get("Privileged")
    info.privileged = priv if isinstance(priv, bool) else None
    info.created_s = epoch_seconds(str(doc.get("Created") or ""))
    for m in doc.get("Mounts") or []:
        if isinstance(m, dict):
            info.mounts.append((str(m.get("Source", "")), str(m.get("Destination", ""))))
    return info


def _repo_tag_of_image(img: Optional[dict]) -> tuple[str, str]:
    """Repository and tag of an image document (libsinsp's parse_image_info)."""
    if not img:
        return "", ""
    repo = tag = ""
    for rd in img.get("RepoDigests") or []:
        if isinstance(rd, str) and "@" in rd:
            repo = rd.partition("@")[0]
            break
    for rt in img.get("RepoTags") or []:
        if isinstance(rt, str):
            if not repo:
                repo = rt[:rt.rfind(":")] if ":" in rt else rt
            if repo in rt:
                tag = rt[rt.rfind(":") + 1:] if ":" in rt else ""
                break
    return repo, tag


# --- the API --------------------------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the engines' API sockets)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


class EngineError(Exception):
    """The runtime could not be asked (refused, timeout, bad reply)."""


class EngineAbsent(EngineError):
    """The runtime's socket does not exist (not installed, not running)."""


class Engine:
    """A Docker-compatible API on a unix socket."""

    EVENTS_URL = "/events?filters=" + quote(json.dumps({"type": ["container"]}))
    WATCHED = frozenset(("create", "start", "rename"))

    def __init__(self, name: str, socket_path: str, timeout: float = 2.0):
        self.name, self.socket, self.timeout = name, socket_path, timeout
        self.watching = False                 # the event stream is connected
        self._streams: set = set()
        self._lock = threading.Lock()

    def get(self, url: str) -> Optional[dict]:
        """The JSON document at url; None for 404; EngineError otherwise."""
        if not os.path.exists(self.socket):
            raise EngineAbsent(f"{self.socket}: no such socket")
        conn = UnixHTTPConnection(self.socket, self.timeout)
        try:
            conn.request("GET", url, headers={"Accept": "application/json"})
            r = conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise EngineError(f"{self.socket}: {e}") from None
        finally:
            conn.close()
        if r.status == 404:
            return None
        if r.status != 200:
            raise EngineError(f"{self.socket}: GET {url}: HTTP {r.status} "
                              f"{body[:200].decode(errors='replace').strip()}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise EngineError(f"{self.socket}: GET {url}: not JSON") from None
        return doc if isinstance(doc, dict) else None

    def inspect(self, cid: str) -> Optional[ContainerInfo]:
        doc = self.get(f"/containers/{cid}/json")
        if doc is None:
            return None

        def image_doc(image_id: str) -> Optional[dict]:
            try:
                return self.get(f"/images/{image_id}/json")
            except EngineError:
                return None
        return parse_container(doc, image_doc)

    def watch(self, seen: Callable[[str, dict], None], stop: threading.Event,
              reconnect_s: float = 2.0) -> None:
        """Follow the engine's event stream until stop is set: seen(id, attributes)
        for each container created, started or renamed (ids of 12 characters;
        attributes: the event's Actor.Attributes, with name and image).  A
        missing socket or a broken stream is tried again every reconnect_s."""
        while not stop.is_set():
            conn = UnixHTTPConnection(self.socket, None)
            sock = r = None
            try:
                if not os.path.exists(self.socket):
                    raise EngineAbsent(self.socket)
                conn.request("GET", self.EVENTS_URL)
                sock = conn.sock              # (the connection lets go of it for HTTP/1.0)
                with self._lock:
                    self._streams.add(sock)
                if stop.is_set():
                    break
                r = conn.getresponse()
                if r.status != 200:
                    raise EngineError(f"{self.socket}: GET /events: HTTP {r.status}")
                self.watching = True
                for line in r:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(ev, dict):
                        continue
                    actor = ev.get("Actor") if isinstance(ev.get("Actor"), dict) else {}
                    action = str(ev.get("Action") or ev.get("status") or "")
                    cid = str(ev.get("id") or actor.get("ID") or "")
                    kind = str(ev.get("Type") or ev.get("type") or "container")
                    attrs = actor.get("Attributes")
                    if kind == "container" and action in self.WATCHED and len(cid) >= 12:
                        seen(cid[:12], attrs if isinstance(attrs, dict) else {})
            except (OSError, ValueError, http.client.HTTPException, EngineError):
                pass
            finally:
                self.watching = False
                with self._lock:
                    self._streams.discard(sock)
                if r is not None:
                    r.close()
                conn.close()
                if sock is not None:
                    sock.close()
            stop.wait(reconnect_s)

    def stop_watching(self) -> None:
        """Unblock watch(): its stream's socket is shut down."""
        with self._lock:
            streams = list(self._streams)
        for sock in streams:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class EngineSettings:
    """The `container_engines` configuration section, read and checked."""
    engines: list                 # the enabled engines
    ttl: float                    # seconds between refreshes of a container's metadata
    max_wait: float               # seconds a batch may wait for a new container's metadata


def settings_from_config(section) -> EngineSettings:
    """The section's settings; ValueError naming the key for a bad value."""
    if not isinstance(section, dict):
        raise ValueError("container_engines: expected a mapping")
    return EngineSettings(
        engines_from_config(section),
        parse_duration(section.get("ttl", "60s"), "container_engines.ttl"),
        parse_duration(section.get("max_wait", "500ms"), "container_engines.max_wait"))


def engines_from_config(section) -> list:
    """The enabled engines of the `container_engines` configuration section."""
    section = section or {}
    timeout = parse_duration(section.get("timeout", "2s"), "container_engines.timeout")
    out = []
    for name in ("podman", "docker"):
        conf = section.get(name) or {}
        if not isinstance(conf, dict):
            raise ValueError(f"container_engines.{name}: expected a mapping")
        if conf.get("enabled", True):
            out.append(Engine(name, str(conf.get("socket") or DEFAULT_SOCKETS[name]), timeout))
    return out


# --- the background lookups ---------------------------------------------------------------------

@dataclass
class _Entry:
    info: Optional[ContainerInfo] = None
    due: float = 0.0              # next lookup (monotonic)
    misses: int = 0
    hint: Optional[dict] = None   # the engine's event's attributes (name, image)


class MetadataFetcher:
    """A thread asking the engines about container ids.  request() and
    results() are the capture thread's side; both are cheap and never wait."""

    def __init__(self, engines: list, ttl: float = 60.0, retry: float = 0.05,
                 clock: Callable[[], float] = time.monotonic, watch: bool = True):
        self.engines = engines
        self.watch = watch
        self._watchers: list = []
        self.ttl, self.retry = ttl, retry
        self.clock = clock
        self._requests: "queue.SimpleQueue[Optional[tuple]]" = queue.SimpleQueue()
        self._results: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self._entries: dict[str, _Entry] = {}         # the thread's own
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.lookups = 0
        self.errors = 0
        self.last_error = ""

    # capture thread
    def request(self, cid: str, hint: Optional[dict] = None) -> None:
        """Look cid up (now, unless it is known already).  hint: the attributes
        of the engine's event about it (name, image), used if lookups fail."""
        self._requests.put((cid, hint))

    def results(self) -> list:
        """[(id, ContainerInfo or None, retrying soon)] since the last call: None
        when no engine knows the id (yet), or it is gone."""
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="container-metadata",
                                        daemon=True)
        self._thread.start()
        if self.watch:
            for engine in self.engines:
                t = threading.Thread(target=engine.watch, args=(self.request, self._stop),
                                     name=f"container-events-{engine.name}", daemon=True)
                t.start()
                self._watchers.append(t)

    def close(self) -> None:
        self._stop.set()
        self._requests.put(None)
        for engine in self.engines:
            engine.stop_watching()
        for t in [self._thread] + self._watchers:
            if t is not None:
                t.join(5)

    # the thread
    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            due = min((e.due for e in self._entries.values() if e.due), default=now + 3600)
            try:
                req = self._requests.get(timeout=max(0.0, min(due - now, 1.0)))
            except queue.Empty:
                req = ("", None)
            if req is None:
                return
            cid, hint = req
            if cid:
                e = self._entries.get(cid)
                if e is None:
                    e = self._entries[cid] = _Entry(due=self.clock())
                if hint and e.hint is None:
                    e.hint = hint
                    if e.info is None and e.misses:     # its lookups failed so far
                        self._results.put((cid, info_from_event(hint), bool(e.due)))
            now = self.clock()
            for cid, e in list(self._entries.items()):
                if e.due and e.due <= now and not self._stop.is_set():
                    self._lookup(cid, e)

    def _lookup(self, cid: str, e: _Entry) -> None:
        self.lookups += 1
        info, failed, asked = None, False, 0
        for engine in self.engines:
            try:
                info = engine.inspect(cid)
            except EngineAbsent:
                continue
            except EngineError as err:      # e.g. podman's HTTP 500 while a container starts
                self.errors += 1
                self.last_error = str(err)
                failed = True
                asked += 1
                continue
            asked += 1
            if info is not None:
                break
        now = self.clock()
        if info is not None:
            e.info, e.misses, e.due = info, 0, now + self.ttl
        elif e.info is not None and not failed and asked:  # no engine knows it any more
            del self._entries[cid]                          # gone: forgotten
        elif e.info is not None:
            e.due = now + min(self.ttl, 5.0)                # known; the engine did not answer
        else:
            e.misses += 1
            e.due = now + self.retry * 2 ** (e.misses - 1) if e.misses < MISS_TRIES else 0.0
            if not e.due:
                del self._entries[cid]                      # no engine knows it: given up
        # whether a retry soon may still find it (no engine running: no point waiting)
        again = info is None and e.info is None and bool(e.due) and bool(asked)
        if info is None and e.info is None and e.hint:
            info = info_from_event(e.hint)      # what its creation event said, meanwhile
        self._results.put((cid, info, again))


def info_from_event(attrs: dict) -> ContainerInfo:
    """What an engine's container event tells (Actor.Attributes: name, image):
    for a container gone before its lookup could finish (podman answers an
    inspect only once `podman run` releases the container, which a container
    living a few ms may not outlive).  Privileges stay unknown."""
    image = str(attrs.get("image") or "") or None
    repo, tag = (None, None)
    if image:
        r, t, _ = split_image(image)
        repo, tag = r or None, t or "latest"
    name = attrs.get("name")
    return ContainerInfo(name=str(name) if name else None, image=image, repository=repo,
                         tag=tag, partial=True)


class ContainerMetadata:
    """The capture thread's side: requests for ids the table sees first,
    results applied to the table between batches, and which rows still wait
    for their first lookup (for holding their batches, at most max_wait)."""

    def __init__(self, table, fetcher: MetadataFetcher, max_wait: float = 0.5,
                 clock: Callable[[], float] = time.monotonic):
        self.table, self.fetcher, self.max_wait, self.clock = table, fetcher, max_wait, clock
        self.pending: dict[int, float] = {}       # row -> deadline of its first lookup
        self.known: dict[bytes, ContainerInfo] = {}   # looked up, no process seen yet
        self.applied = 0
        self.early = 0                            # metadata there before the first process
        self.with_metadata = 0                    # containers that got some
        self.partial: dict[bytes, None] = {}      # ids with only their event's name, image
        self.unanswered: dict[bytes, float] = {}  # id -> when first seen, until its metadata
        self.waits: deque = deque(maxlen=1024)    # first seen -> metadata (s), the latest
        table.on_new = self._new

    def _new(self, cid: bytes, row: int) -> None:
        now = self.clock()
        info = self.known.pop(cid, None)
        if info is not None:              # looked up already (the engine's events)
            self.table.apply_info(cid, info)
            self._got(cid, info, 0.0)
            self.early += 1
        else:
            self.unanswered[cid] = now
            if self.max_wait > 0:
                self.pending[row] = now + self.max_wait
        self.fetcher.request(cid.decode())

    def _got(self, cid: bytes, info: ContainerInfo, wait: Optional[float]) -> None:
        if wait is not None:
            self.with_metadata += 1
            self.waits.append(wait)
        if info.partial:
            self.partial[cid] = None
            while len(self.partial) > KNOWN_MAX:
                del self.partial[next(iter(self.partial))]
        else:
            self.partial.pop(cid, None)

    def start(self) -> None:
        self.fetcher.start()

    def close(self) -> None:
        self.table.on_new = None
        self.fetcher.close()

    def apply(self) -> int:
        """Apply the lookups finished since the last call; returns how many."""
        n = 0
        for cid, info, again in self.fetcher.results():
            key = cid.encode()
            row = self.table.rows.get(key)
            if row is None:
                if info is not None:
                    self.known[key] = info
                    while len(self.known) > KNOWN_MAX:      # the oldest first
                        del self.known[next(iter(self.known))]
                else:
                    self.known.pop(key, None)
                continue
            if not again:
                self.pending.pop(row, None)
                if info is None:
                    self.unanswered.pop(key, None)
            if info is not None:
                self.table.apply_info(key, info)
                since = self.unanswered.pop(key, None)
                self._got(key, info, None if since is None else self.clock() - since)
                n += 1
        self.applied += n
        if self.pending:
            now = self.clock()
            for row in [r for r, d in self.pending.items() if d <= now]:
                del self.pending[row]
        return n

    def summary(self) -> str:
        """One line for the run's summary: containers, lookups, time to metadata."""
        waits = sorted(self.waits)
        text = (f"Containers: {len(self.table.rows)} seen, metadata for {self.with_metadata} "
                f"({len(self.partial)} from their creation event only, {self.early} before "
                f"their first process; {self.fetcher.lookups} lookups, "
                f"{self.fetcher.errors} errors")
        if self.fetcher.last_error:
            text += f"; last: {self.fetcher.last_error}"
        text += ")"
        if waits:
            text += (f"; time to metadata: median {1e3 * waits[len(waits) // 2]:.0f} ms, "
                     f"max {1e3 * waits[-1]:.0f} ms (of the latest {len(waits)})")
        return text

    def waiting_rows(self, B, P) -> frozenset:
        """The rows of B's containers whose first lookup is still in flight."""
        if not self.pending:
            return frozenset()
        n = int(B.n[0])
        slots = B.slot[:n]
        slots = slots[slots >= 0]
        if slots.size == 0:
            return frozenset()
        rows = np.unique(P.container[slots])
        return frozenset(int(r) for r in rows if int(r) in self.pending)

    def is_waiting(self, rows) -> bool:
        return any(r in self.pending for r in rows)


class MetadataGate:
    """Batches on their way to rule evaluation, held back (in order) while a
    container in them waits for its first lookup, at most max_wait each, and
    at most HOLD_ROWS rows in all (beyond, the oldest go on without waiting:
    memory stays bounded on a busy host).  submit(B, epoch) is the evaluator's;
    ready() says whether it can take a batch now without dropping it."""

    HOLD_ROWS = 1 << 16

    def __init__(self, meta: ContainerMetadata, submit: Callable, ready: Callable[[], bool]):
        self.meta, self.submit, self.ready = meta, submit, ready
        self.held: deque = deque()                # (B, epoch, rows, held_since)
        self.held_rows = 0
        self.held_batches = 0                     # batches that waited, in all

    def post(self, B, epoch, P) -> None:
        rows = self.meta.waiting_rows(B, P)
        if rows or self.held:
            self.held.append((B, epoch, rows, self.meta.clock()))
            self.held_rows += int(B.n[0])
            self.held_batches += 1
            self.flush()
        else:
            self.submit(B, epoch)

    def flush(self, force: bool = False) -> None:
        """Evaluate the held batches whose containers are no longer waiting."""
        while self.held:
            B, epoch, rows, since = self.held[0]
            full = self.held_rows > self.HOLD_ROWS
            if not (force or full):
                if self.meta.is_waiting(rows):
                    return
                late = self.meta.clock() - since > 4 * self.meta.max_wait + 1.0
                if not late and not self.ready():
                    return
            self.held.popleft()
            self.held_rows -= int(B.n[0])
            self.submit(B, epoch)
