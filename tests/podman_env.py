"""Real podman containers for the tests (root; podman, runc and busybox-static
installed and configured by `make setup`, see tests/podman/setup.sh).

The interface (kept stable: container scenarios build on it):

    from podman_env import (IMAGE, busybox_image, needs_podman, podman_ready,
                            run_container, unique_name)
    def test_x(podman_service): ...      # the fixture: no import needed (conftest.py)

    podman_ready() -> str         why podman containers cannot run here, "" if they can
                                  (checked once: a real `podman run` of the image)
    needs_podman                  pytest mark: skip with that reason (evaluated when
                                  imported by name, not when the module is)
    busybox_image() -> str        the image name (IMAGE, "localhost/sensor-busybox:1.0"),
                                  imported first if missing (a busybox rootfs; no registry)
    run_container(args, *, name=None, privileged=False, detach=False, timeout=60,
                  options=(), check=False, input=None) -> subprocess.CompletedProcess
                                  `podman run --rm [--name NAME] [--privileged] [-d]
                                  [options...] IMAGE args...`, output captured as text.
                                  detach=True returns once the container started; its
                                  stdout is the full container id; stop it with
                                  stop_container(name or id).
    unique_name(prefix) -> str    a container name no other test uses
    inspect(name_or_id) -> dict   `podman inspect` of a container ({} if it is gone)
    container_id(name_or_id) -> str   its full 64-hex id ("" if it is gone)
    stop_container(name_or_id)    stop (and so remove: --rm) a detached container
    podman_service                pytest fixture (module scope), registered for every test
                                  module by tests/conftest.py (just name it as a
                                  parameter): a `podman system service` serving the
                                  Docker-compatible API on a fresh unix socket for the
                                  module's tests; yields the socket path, stopped after the
                                  module (skips when podman_ready() says why).
                                  PodmanService(path) is the same as a context manager.
                                  A sensor finds it with
                                  `-o container_engines.podman.socket=<path>` (its
                                  default, /run/podman/podman.sock, is left alone: tests
                                  running at the same time each have their own).
    api_get(socket, url) -> (status, body)   GET on such a socket

Timing, for sensor tests: the sensor learns a container's metadata from the API
within tens of ms and holds back alerts of a new container until then (at most
container_engines.max_wait, 500 ms); a container living only a few ms (`echo`)
may be gone before podman answers: its alerts then carry the name and image of
its creation event but container.privileged <NA>.  A scenario that checks
container.privileged should keep its container alive a little (`sh -c '...;
sleep 1'`).

The image's rootfs: /bin/busybox (static) with every applet linked where busybox
installs it (/bin/sh, /bin/cat, /usr/bin/nc, /sbin/ifconfig, ...), /etc/passwd
and /etc/group with root and nobody, /tmp; CMD /bin/sh.  Containers run as root
with podman's defaults (cgroupfs, runc; on this machine's cgroup v1 controllers
their cgroup is /libpod_parent/libpod-<64 hex>).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional, Sequence

import pytest

from sensor.capture.container_engines import UnixHTTPConnection

IMAGE = os.environ.get("SENSOR_TEST_IMAGE", "localhost/sensor-busybox:1.0")
SETUP = Path(__file__).resolve().parent / "podman" / "setup.sh"


def _podman(*args: str, timeout: float = 60, check: bool = False,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          check=check, input=input)


@functools.lru_cache(maxsize=None)
def podman_ready() -> str:
    """Why podman containers cannot run here ("" when they can)."""
    if os.geteuid() != 0:
        return "podman containers need root"
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make setup)"
    try:
        image = busybox_image()
        got = _podman("run", "--rm", image, "true", timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        return f"podman cannot run a container here: {e}"
    if got.returncode != 0:
        return f"podman cannot run a container here: {got.stderr.strip()[-500:]}"
    return ""


@functools.lru_cache(maxsize=None)
def busybox_image() -> str:
    """The test image's name, imported now if podman does not have it."""
    if _podman("image", "exists", IMAGE).returncode != 0:
        env = dict(os.environ, SENSOR_TEST_IMAGE=IMAGE)
        subprocess.run(["sh", str(SETUP), "image"], check=True, env=env, timeout=300,
                       capture_output=True)
    return IMAGE


def __getattr__(name: str):
    """`needs_podman`, made when first imported (podman_ready() runs a container:
    importing this module alone, as tests/conftest.py does, costs nothing)."""
    if name == "needs_podman":
        return pytest.mark.skipif(bool(podman_ready()), reason=podman_ready() or "ok")
    raise AttributeError(name)


def unique_name(prefix: str = "sensortest") -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def run_container(args: Sequence[str], *, name: Optional[str] = None,
                  privileged: bool = False, detach: bool = False, timeout: float = 60,
                  options: Sequence[str] = (), check: bool = False,
                  input: Optional[str] = None) -> subprocess.CompletedProcess:
    """`podman run --rm` of the busybox image with args as the command."""
    cmd = ["run", "--rm"]
    if name:
        cmd += ["--name", name]
    if privileged:
        cmd.append("--privileged")
    if detach:
        cmd.append("--detach")
    elif input is not None:
        cmd.append("--interactive")
    cmd += list(options)
    cmd.append(busybox_image())
    cmd += list(args)
    return _podman(*cmd, timeout=timeout, check=check, input=input)


def inspect(name_or_id: str) -> dict:
    got = _podman("container", "inspect", name_or_id)
    if got.returncode != 0:
        return {}
    doc = json.loads(got.stdout or "[]")
    return doc[0] if doc else {}


def container_id(name_or_id: str) -> str:
    return str(inspect(name_or_id).get("Id", ""))


def stop_container(name_or_id: str, timeout: float = 30) -> None:
    """Stop a container (removed too when it ran with --rm); no error if it is gone."""
    _podman("stop", "--ignore", "--time", "1", name_or_id, timeout=timeout)
    _podman("rm", "--force", "--ignore", name_or_id, timeout=timeout)


# --- the Docker-compatible API ----------------------------------------------------------------

class PodmanService:
    """`podman system service` on a unix socket, for as long as the context lasts."""

    def __init__(self, socket_path: str, timeout: float = 30):
        self.path = str(socket_path)
        self.timeout = timeout
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> str:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{self.path}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError(f"podman system service exited: {err[-500:]}")
            if ping(self.path):
                return self.path
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"podman system service not answering on {self.path}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def api_get(socket_path: str, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET url on the API socket: (status, body)."""
    conn = UnixHTTPConnection(socket_path, timeout)
    try:
        conn.request("GET", url)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def ping(socket_path: str) -> bool:
    try:
        return api_get(socket_path, "/_ping", 2.0)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def podman_service():
    """The Docker-compatible API of podman on a socket of its own; yields its path."""
    reason = podman_ready()
    if reason:
        pytest.skip(reason)
    # a short path: unix socket paths are limited to 107 bytes
    path = f"/run/sensortest-podman-{os.getpid()}-{uuid.uuid4().hex[:6]}.sock"
    with PodmanService(path) as sock:
        yield sock
