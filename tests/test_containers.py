"""Containers: ids from cgroup paths (every runtime, cgroup v1 and v2), image
names split as Falco splits them, the table (bounded arena, metadata from the
runtime's API, shared with forked workers), the API client and its background
lookups, and batches held back while a new container's metadata is on its way.
Real podman containers: test_containers_live.py."""
from __future__ import annotations

import json
import mmap
import os
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from sensor.capture import cgroups
from sensor.capture import container_engines as CE
from sensor.capture.containers import ContainerTable
from sensor.capture.state import StateEngine
from state_rows import RawRows, proc, row, standard_snapshot


def _event(name: str) -> bytes:
    return json.dumps({"container": {"id": "9dbcbd0c435f", "name": name,
                                     "image": "nginx:latest", "imagerepo": "nginx",
                                     "imagetag": "latest", "privileged": False}}).encode()


def _text(t: ContainerTable, row: int, name: str) -> bytes:
    off, ln = int(getattr(t.C, name + "_off")[row]), int(getattr(t.C, name + "_len")[row])
    return bytes(t.C.arena[off:off + ln])


def test_repeated_metadata_does_not_grow_the_arena():
    t = ContainerTable()
    row = t.apply_json(_event("epic_cray"))
    used = int(t.C.n[1])
    for _ in range(1000):
        assert t.apply_json(_event("epic_cray")) == row
    assert int(t.C.n[1]) == used
    assert _text(t, row, "name") == b"epic_cray"


def test_changed_metadata_is_stored_whole():
    t = ContainerTable()
    row = t.apply_json(_event("a_long_container_name"))
    t.apply_json(_event("short"))
    assert _text(t, row, "name") == b"short"
    t.apply_json(_event("a_much_longer_container_name_than_before"))
    assert _text(t, row, "name") == b"a_much_longer_container_name_than_before"
    assert _text(t, row, "image") == b"nginx:latest"


# --- container.id from cgroup paths ---------------------------------------------------------------

ID = "3ad7b26ded6d" + "0123456789abcdef" * 3 + "0123"
SHORT = ID[:12]

# (runtime, cgroup layout, path): as each runtime names its containers' cgroups, in a
# cgroup v1 controller's hierarchy and in the v2 tree (the same path in both).
PATHS = [
    ("docker", "cgroupfs", f"/docker/{ID}"),
    ("docker", "systemd", f"/system.slice/docker-{ID}.scope"),
    ("podman", "cgroupfs", f"/libpod_parent/libpod-{ID}"),
    ("podman", "systemd", f"/machine.slice/libpod-{ID}.scope"),
    ("podman", "systemd v2 split", f"/machine.slice/libpod-{ID}.scope/container"),
    ("containerd", "cgroupfs", f"/kubepods/besteffort/pod0a1b2c3d-aaaa-bbbb/{ID}"),
    ("containerd", "systemd",
     f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b.slice/"
     f"cri-containerd-{ID}.scope"),
    ("containerd", "no SystemdCgroup",
     f"/system.slice/containerd.service/kubepods-besteffort-pod0a1b.slice:cri-containerd:{ID}"),
    ("containerd", "nerdctl cgroupfs", f"/default/{ID}"),
    ("cri-o", "systemd", f"/kubepods.slice/kubepods-pod0a1b.slice/crio-{ID}.scope"),
    ("cri-o", "cgroupfs", f"/kubepods/pod0a1b/crio-{ID}"),
]


@pytest.mark.parametrize("runtime,layout,path", PATHS,
                         ids=[f"{r}-{l}" for r, l, _ in PATHS])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_container_id_of_each_runtime(runtime, layout, path, version):
    # v1: one entry per controller, as the probes and the /proc scan list them;
    # v2: the one tree (the probes label it with the controller too)
    if version == "v1":
        entries = [(b"cpu", path.encode()), (b"memory", path.encode())]
    else:
        entries = [(b"cpu", path.encode())]
    raw = b"".join(sub + b"=" + p + b"\0" for sub, p in entries)
    assert cgroups.container_id(p for _, p in cgroups.parse_param(raw)) == SHORT.encode()


def test_host_paths_name_no_container():
    for path in ["/", "/user.slice/user-0.slice/session-3.scope", "/system.slice/ssh.service",
                 "/process_api/ee61c6f8ab8fe892715d8ff0f2a5854c",      # 32 hex: not an id
                 "/libpod_parent/conmon", f"/docker/{ID[:-1]}", f"/docker/{ID}x",
                 f"/libpod_parent/libpod-{ID.upper()}"]:
        assert cgroups.container_id([path.encode()]) is None, path


def test_only_one_controller_needs_to_name_it():
    # a hybrid host: cpu at the root, memory in the container's cgroup
    raw = b"cpu=/\0memory=/libpod_parent/libpod-" + ID.encode() + b"\0"
    assert cgroups.container_id(p for _, p in cgroups.parse_param(raw)) == SHORT.encode()


# --- image names, as Falco splits them ------------------------------------------------------------

@pytest.mark.parametrize("image,repo,tag,digest", [
    ("nginx", "nginx", "", ""),
    ("nginx:1.25", "nginx", "1.25", ""),
    ("library/nginx:latest", "library/nginx", "latest", ""),
    ("docker.io/library/nginx:1.25-alpine", "docker.io/library/nginx", "1.25-alpine", ""),
    ("localhost/sensor-busybox:1.0", "localhost/sensor-busybox", "1.0", ""),
    ("localhost:5000/team/app:2.1", "localhost:5000/team/app", "2.1", ""),
    ("registry.example.com:443/app", "registry.example.com:443/app", "", ""),
    ("nginx@sha256:0123abcd", "nginx", "", "sha256:0123abcd"),
    ("quay.io/org/app:v3@sha256:0123abcd", "quay.io/org/app", "v3", "sha256:0123abcd"),
    ("localhost:5000/app@sha256:ff", "localhost:5000/app", "", "sha256:ff"),
])
def test_split_image(image, repo, tag, digest):
    assert CE.split_image(image) == (repo, tag, digest)


def test_epoch_seconds():
    assert CE.epoch_seconds("2024-05-01T10:00:00Z") == 1714557600
    assert CE.epoch_seconds("2024-05-01T10:00:00.123456789Z") == 1714557600
    assert CE.epoch_seconds("2024-05-01T12:00:00.5+02:00") == 1714557600
    assert CE.epoch_seconds("2024-05-01T05:30:00-04:30") == 1714557600
    assert CE.epoch_seconds("0001-01-01T00:00:00Z") == 0
    assert CE.epoch_seconds("") == 0 and CE.epoch_seconds("yesterday") == 0


def _doc(**over):
    doc = {"Id": ID, "Name": "/web", "Created": "2024-05-01T10:00:00.5Z",
           "Image": "sha256:" + "ab" * 32,
           "Config": {"Image": "docker.io/library/nginx:1.25"},
           "HostConfig": {"Privileged": False},
           "Mounts": [{"Source": "/var/run/docker.sock", "Destination": "/run/docker.sock"},
                      {"Source": "/srv/data", "Destination": "/data"}]}
    doc.update(over)
    return doc


def test_parse_docker_container():
    info = CE.parse_container(_doc())
    assert (info.name, info.image, info.repository, info.tag, info.privileged) == (
        "web", "docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", False)
    assert info.created_s == 1714557600
    assert info.mounts == [("/var/run/docker.sock", "/run/docker.sock"), ("/srv/data", "/data")]


def test_parse_podman_compat_container():
    # podman 4's compat API: "Image" is the image id, Config.Image the name used
    info = CE.parse_container(_doc(Name="sensortest-1", Config={
        "Image": "localhost/sensor-busybox:1.0"}, HostConfig={"Privileged": True}, Mounts=[]))
    assert (info.name, info.image, info.repository, info.tag, info.privileged) == (
        "sensortest-1", "localhost/sensor-busybox:1.0", "localhost/sensor-busybox", "1.0", True)
    assert info.mounts == []


def test_parse_image_name_in_image_field():
    info = CE.parse_container(_doc(Image="quay.io/org/app", Config={"Image": "app"}))
    assert (info.image, info.repository, info.tag) == ("app", "quay.io/org/app", "latest")


def test_parse_untagged_and_by_id():
    info = CE.parse_container(_doc(Config={"Image": "alpine"}))
    assert (info.repository, info.tag) == ("alpine", "latest")
    # started from the image id: the name comes from the image's own document
    asked = []

    def image_doc(image_id):
        asked.append(image_id)
        return {"RepoTags": ["redis:7.2", "redis:latest"],
                "RepoDigests": ["docker.io/library/redis@sha256:99"]}
    info = CE.parse_container(_doc(Config={"Image": "abababab"}), image_doc)
    assert asked == ["ab" * 32]
    assert (info.image, info.repository, info.tag) == ("abababab", "docker.io/library/redis",
                                                       "latest")
    info = CE.parse_container(_doc(Config={"Image": "sha256:abab"}),
                              lambda i: {"RepoTags": ["redis:7.2"]})
    assert (info.repository, info.tag) == ("redis", "7.2")
    info = CE.parse_container(_doc(Config={"Image": "abab"}), lambda i: None)
    assert (info.repository, info.tag) == (None, "latest")


def test_parse_unknown_privileges_stay_unknown():
    info = CE.parse_container(_doc(HostConfig={}))
    assert info.privileged is None


# --- the table: metadata from the API, seen by processes forked before it came ------------------

def _apply(t: ContainerTable, cid: bytes, **kw) -> int:
    info = CE.ContainerInfo(name=kw.get("name", "web"), image="nginx:1.25",
                            repository="nginx", tag="1.25", privileged=kw.get("priv", False),
                            created_s=1714557600, mounts=[("/src", "/dst")])
    return t.apply_info(cid, info)


def test_apply_info_fills_the_row():
    t = ContainerTable()
    row = t.row_for(SHORT.encode())
    assert _apply(t, SHORT.encode()) == row
    assert _text(t, row, "name") == b"web" and _text(t, row, "image_tag") == b"1.25"
    assert _text(t, row, "mounts") == b"/dst" and _text(t, row, "mount_sources") == b"/src"
    assert t.C.privileged[row] == 0 and t.C.start_ts[row] == 1714557600 * 10**9
    used = int(t.C.n[1])
    for _ in range(100):                               # refreshes: the arena stays put
        _apply(t, SHORT.encode())
    assert int(t.C.n[1]) == used
    assert t.apply_info(b"000000000000", CE.ContainerInfo(name="x")) is None


def test_new_rows_are_announced():
    t = ContainerTable()
    seen = []
    t.on_new = lambda cid, row: seen.append((cid, row))
    r = t.row_for(b"aaaaaaaaaaaa")
    t.row_for(b"aaaaaaaaaaaa")
    t.row_for(None)
    assert seen == [(b"aaaaaaaaaaaa", r)]


def test_metadata_applied_after_a_fork_is_seen_by_the_child():
    t = ContainerTable()
    row = t.row_for(SHORT.encode())
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:                                       # a worker forked before the lookup
        try:
            os.close(go_w)
            os.read(go_r, 1)
            C = t.C
            off, ln = int(C.name_off[row]), int(C.name_len[row])
            os.write(out_w, bytes(C.arena[off:off + ln]) + b"|%d" % C.privileged[row])
        finally:
            os._exit(0)
    os.close(go_r)
    _apply(t, SHORT.encode(), name="late-name", priv=True)
    os.write(go_w, b"x")
    got = os.read(out_r, 100)
    os.waitpid(pid, 0)
    for fd in (go_w, out_r, out_w):
        os.close(fd)
    assert got == b"late-name|1"


def test_state_engine_rows_show_api_metadata():
    """A seeded podman process (cgroup v1 paths, as the /proc scan lists them):
    container.id at once, the rest once the API's answer is applied."""
    s = standard_snapshot()
    cg = b"/libpod_parent/libpod-" + ID.encode()
    s.procs[4321] = proc(4321, comm=b"sh", cgroups=[(b"cpu", cg), (b"memory", cg),
                                                    (b"name=systemd", cg)])
    eng = StateEngine()
    eng.seed(s)
    rows = RawRows()
    rows.add("read", ">", 4321, fd=0, size=1)
    rows.add("read", ">", 1, fd=0, size=1)
    B = eng.process(rows.batch())
    fields = ("container.id", "container.name", "container.image",
              "container.image.repository", "container.image.tag", "container.privileged")
    assert row(eng, B, 0, *fields) == {
        "container.id": SHORT, "container.name": None, "container.image": None,
        "container.image.repository": None, "container.image.tag": None,
        "container.privileged": None}
    assert row(eng, B, 1, "container.id", "container.name") == {
        "container.id": "host", "container.name": "host"}
    eng.containers.apply_info(SHORT.encode(), CE.parse_container(_doc(
        Name="/sensortest", Config={"Image": "localhost/sensor-busybox:1.0"},
        HostConfig={"Privileged": True})))
    assert row(eng, B, 0, *fields) == {
        "container.id": SHORT, "container.name": "sensortest",
        "container.image": "localhost/sensor-busybox:1.0",
        "container.image.repository": "localhost/sensor-busybox",
        "container.image.tag": "1.0", "container.privileged": "true"}


# --- the API over a unix socket ---------------------------------------------------------------------

class _Api:
    """A Docker-compatible API on a unix socket: documents by container id
    prefix; `fail` ids answer HTTP 500 that many times first; /events streams
    what is put in `events`."""

    def __init__(self, path):
        self.docs, self.fail, self.asked = {}, {}, []
        self.events: "queue.Queue[dict]" = queue.Queue()
        self.closing = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.asked.append(self.path)
                if self.path.startswith("/events?"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    while not api.closing.is_set():
                        try:
                            ev = api.events.get(timeout=0.05)
                        except queue.Empty:
                            continue
                        self.wfile.write(json.dumps(ev).encode() + b"\n")
                        self.wfile.flush()
                    return
                parts = self.path.split("/")
                body, status = b'{"message":"no such container"}', 404
                if len(parts) == 4 and parts[1] == "containers" and parts[3] == "json":
                    key = parts[2]
                    if api.fail.get(key, 0) > 0:
                        api.fail[key] -= 1
                        body, status = b'{"message":"container state improper"}', 500
                    else:
                        for cid, doc in api.docs.items():
                            if cid.startswith(key):
                                body, status = json.dumps(doc).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class UnixServer(ThreadingHTTPServer):
            address_family = socket.AF_UNIX
            daemon_threads = True

            def server_bind(self):
                self.socket.bind(self.server_address)

            def get_request(self):
                conn, _ = self.socket.accept()
                return conn, ("local", 0)

        self.server = UnixServer(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(tmp_path):
    a = _Api(tmp_path / "api.sock")
    yield a, str(tmp_path / "api.sock")
    a.close()


def test_engine_get_inspect_and_errors(api, tmp_path):
    a, path = api
    a.docs[ID] = _doc()
    eng = CE.Engine("docker", path, timeout=2)
    info = eng.inspect(SHORT)
    assert info.name == "web" and info.tag == "1.25"
    assert a.asked[-1] == f"/containers/{SHORT}/json"
    assert eng.inspect("ffffffffffff") is None                  # 404
    a.fail["ffffffffffff"] = 1
    with pytest.raises(CE.EngineError, match="HTTP 500"):
        eng.inspect("ffffffffffff")
    with pytest.raises(CE.EngineAbsent):
        CE.Engine("podman", str(tmp_path / "none.sock")).inspect(SHORT)


def test_engines_from_config():
    from sensor.config import DEFAULTS
    engines = CE.engines_from_config(DEFAULTS["container_engines"])
    assert [(e.name, e.socket, e.timeout) for e in engines] == [
        ("podman", "/run/podman/podman.sock", 2.0), ("docker", "/var/run/docker.sock", 2.0)]
    engines = CE.engines_from_config({"docker": {"enabled": False},
                                      "podman": {"socket": "/x.sock"}, "timeout": "250ms"})
    assert [(e.name, e.socket, e.timeout) for e in engines] == [("podman", "/x.sock", 0.25)]


def _wait(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_fetcher_looks_up_retries_refreshes_and_forgets(api, tmp_path):
    a, path = api
    a.docs[ID] = _doc()
    other = "bb" * 32
    a.docs[other] = _doc(Name="/other")
    a.fail[other[:12]] = 2                               # a container still starting
    absent = CE.Engine("docker", str(tmp_path / "no-docker.sock"))
    f = CE.MetadataFetcher([absent, CE.Engine("podman", path)], ttl=0.3, retry=0.02,
                           watch=False)
    f.start()
    got = []
    try:
        f.request(SHORT)
        f.request(other[:12])
        f.request("cccccccccccc")                       # no engine knows it
        assert _wait(lambda: got.extend(f.results()) or
                     {c for c, i, _ in got if i is not None} == {SHORT, other[:12]})
        by = {}
        for cid, info, again in got:
            by.setdefault(cid, []).append((info.name if info else None, again))
        assert by[SHORT][0] == ("web", False)
        assert by[other[:12]] == [(None, True), (None, True), ("other", False)]
        assert by["cccccccccccc"][0] == (None, True)    # retried: the id may show up yet
        assert f.errors == 2 and "HTTP 500" in f.last_error
        # refreshed every ttl: a rename shows; a container gone is forgotten
        a.docs[ID] = _doc(Name="/renamed")
        got.clear()
        assert _wait(lambda: got.extend(f.results()) or
                     any(i is not None and i.name == "renamed" for _, i, _ in got))
        del a.docs[ID]
        assert _wait(lambda: SHORT not in f._entries)
        n = len([p for p in a.asked if SHORT in p])
        time.sleep(0.7)
        assert len([p for p in a.asked if SHORT in p]) == n      # no more lookups
    finally:
        f.close()


def test_fetcher_without_engines_does_not_make_anyone_wait(tmp_path):
    f = CE.MetadataFetcher([CE.Engine("podman", str(tmp_path / "none.sock"))], watch=False)
    f.start()
    try:
        f.request(SHORT)
        got = []
        assert _wait(lambda: got.extend(f.results()) or got)
        assert got[0] == (SHORT, None, False) and f.errors == 0
    finally:
        f.close()


def _engine_event(cid, action="create", name="web", image="docker.io/library/nginx:1.25"):
    return {"status": action, "id": cid, "Type": "container", "Action": action,
            "Actor": {"ID": cid, "Attributes": {"name": name, "image": image}}}


def test_engine_events_announce_containers_before_their_processes(api):
    """A container's creation event makes the lookup happen before any of its
    processes is seen: the row gets its metadata the moment it is made."""
    a, path = api
    a.docs[ID] = _doc()
    eng = StateEngine()
    f = CE.MetadataFetcher([CE.Engine("podman", path)], retry=0.02)
    meta = CE.ContainerMetadata(eng.containers, f, max_wait=0.5)
    meta.start()
    try:
        assert _wait(lambda: f.engines[0].watching)
        a.events.put({"Type": "image", "Action": "pull", "id": "x" * 64})    # not ours
        a.events.put(_engine_event(ID, "exec_create"))                   # not watched
        a.events.put(_engine_event(ID))
        assert _wait(lambda: meta.apply() or SHORT.encode() in meta.known)
        assert a.asked.count(f"/containers/{SHORT}/json") == 1
        row_ = eng.containers.row_for(SHORT.encode())     # its first process
        assert meta.early == 1 and row_ not in meta.pending
        assert _text(eng.containers, row_, "name") == b"web"
        # a container gone before any lookup answered: its event's name and image
        gone = "dd" * 32
        a.events.put(_engine_event(gone, name="short-lived", image="localhost/app"))
        row2 = eng.containers.row_for(gone[:12].encode())
        assert row2 in meta.pending
        assert _wait(lambda: meta.apply() or eng.containers.C.name_len[row2] > 0)
        assert _text(eng.containers, row2, "name") == b"short-lived"
        assert _text(eng.containers, row2, "image_repository") == b"localhost/app"
        assert _text(eng.containers, row2, "image_tag") == b"latest"
        assert eng.containers.C.privileged[row2] == -1
        assert gone[:12].encode() in meta.partial
        assert "1 from their creation event only" in meta.summary()
    finally:
        meta.close()
    assert not any(t.is_alive() for t in f._watchers)


# --- holding batches of a container whose metadata is on its way ------------------------------------

class _FakeFetcher:
    def __init__(self):
        self.asked, self.ready = [], []

    def request(self, cid):
        self.asked.append(cid)

    def results(self):
        out, self.ready = self.ready, []
        return out

    def start(self):
        pass

    def close(self):
        pass


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _batch_of(eng, tid):
    rows = RawRows()
    rows.add("read", ">", tid, fd=0, size=1)
    return eng.process(rows.batch())


def test_batches_wait_for_a_new_containers_metadata_in_order():
    s = standard_snapshot()
    eng = StateEngine()
    clock = _Clock()
    fetcher = _FakeFetcher()
    meta = CE.ContainerMetadata(eng.containers, fetcher, max_wait=0.5, clock=clock)
    submitted = []
    ready = [True]
    gate = CE.MetadataGate(meta, lambda B, e: submitted.append(e), lambda: ready[0])
    eng.seed(s)                                        # host processes only
    cg = b"/docker/" + ID.encode()
    s2 = standard_snapshot()
    s2.procs = {4321: proc(4321, comm=b"sh", cgroups=[(b"cpu", cg)])}
    B0 = _batch_of(eng, 1)
    gate.post(B0, eng.end_batch(), eng.P)
    assert submitted == [0]                            # nothing to wait for
    eng.seed(s2)                                       # a container appears
    assert fetcher.asked == [SHORT]
    gate.post(_batch_of(eng, 4321), eng.end_batch(), eng.P)
    gate.post(_batch_of(eng, 1), eng.end_batch(), eng.P)    # host: behind it, in order
    assert submitted == [0] and len(gate.held) == 2
    fetcher.ready = [(SHORT, None, True)]              # a miss, retried: still waiting
    meta.apply()
    gate.flush()
    assert submitted == [0]
    fetcher.ready = [(SHORT, CE.ContainerInfo(name="web"), False)]
    meta.apply()
    ready[0] = False                                   # the workers have no free slot
    gate.flush()
    assert submitted == [0]
    ready[0] = True
    gate.flush()
    assert submitted == [0, 1, 2] and not gate.held
    assert row(eng, _batch_of(eng, 4321), 0, "container.name") == {"container.name": "web"}


def test_batches_wait_at_most_max_wait():
    eng = StateEngine()
    clock = _Clock()
    meta = CE.ContainerMetadata(eng.containers, _FakeFetcher(), max_wait=0.5, clock=clock)
    submitted = []
    gate = CE.MetadataGate(meta, lambda B, e: submitted.append(e), lambda: True)
    s = standard_snapshot()
    s.procs[4321] = proc(4321, comm=b"sh", cgroups=[(b"cpu", b"/docker/" + ID.encode())])
    eng.seed(s)
    gate.post(_batch_of(eng, 4321), eng.end_batch(), eng.P)
    clock.t += 0.4
    meta.apply()
    gate.flush()
    assert submitted == []
    clock.t += 0.2
    meta.apply()
    gate.flush()
    assert submitted == [0]
    # no waiting at all with max_wait 0
    eng2 = StateEngine()
    meta2 = CE.ContainerMetadata(eng2.containers, _FakeFetcher(), max_wait=0, clock=clock)
    gate2 = CE.MetadataGate(meta2, lambda B, e: submitted.append(("2", e)), lambda: True)
    eng2.seed(s)
    gate2.post(_batch_of(eng2, 4321), eng2.end_batch(), eng2.P)
    assert submitted[-1] == ("2", 0)


def test_table_arrays_are_shared_memory():
    def backing(a):
        while isinstance(a, np.ndarray):
            a = a.base
        return a.obj if isinstance(a, memoryview) else a
    t = ContainerTable(capacity=2, arena_bytes=8)
    for i in range(5):                                 # grown: still shared
        t.row_for(b"%012d" % i)
    assert all(isinstance(backing(a), mmap.mmap) for a in t.C)


def test_held_rows_are_bounded():
    eng = StateEngine()
    clock = _Clock()
    meta = CE.ContainerMetadata(eng.containers, _FakeFetcher(), max_wait=0.5, clock=clock)
    submitted = []
    gate = CE.MetadataGate(meta, lambda B, e: submitted.append(e), lambda: True)
    gate.HOLD_ROWS = 2
    s = standard_snapshot()
    s.procs[4321] = proc(4321, comm=b"sh", cgroups=[(b"cpu", b"/docker/" + ID.encode())])
    eng.seed(s)
    for _ in range(4):
        gate.post(_batch_of(eng, 4321), eng.end_batch(), eng.P)
    assert submitted == [0, 1] and gate.held_rows == 2       # the oldest went on
    gate.flush(force=True)
    assert submitted == [0, 1, 2, 3] and gate.held_rows == 0


def test_settings_from_config_reads_and_checks_the_section():
    from sensor.config import DEFAULTS
    st = CE.settings_from_config(DEFAULTS["container_engines"])
    assert (st.ttl, st.max_wait) == (60.0, 0.5)
    assert [e.name for e in st.engines] == ["podman", "docker"]
    with pytest.raises(ValueError, match="container_engines.ttl"):
        CE.settings_from_config({"ttl": "soon"})
    with pytest.raises(ValueError, match="container_engines.max_wait"):
        CE.settings_from_config({"max_wait": "later"})
    with pytest.raises(ValueError, match="container_engines.podman: expected a mapping"):
        CE.settings_from_config({"podman": 3})
    with pytest.raises(ValueError, match="container_engines: expected a mapping"):
        CE.settings_from_config("podman")
