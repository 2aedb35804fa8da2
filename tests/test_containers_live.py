"""Container awareness live, with real podman containers (root, real kernel,
podman + runc; tests/podman_env.py): a `sensor` child with the tests' container
rules and podman's Docker-compatible API on a socket of its own.

  * `podman run --rm` containers: the alert of their command carries
    container.id (the first 12 hex digits of podman's id), container.name,
    container.image, .repository, .tag and .privileged from the API, although
    the command runs ~30 ms after the container's first process (its alert
    waits for the lookup); a container living a millisecond still gets its
    name and image (from podman's creation event when the lookup loses the
    race against its removal);
  * --privileged: container.privileged true;
  * a host process: container.id and container.name "host";
  * a container running before the sensor started: found by the /proc scan
    (its cgroup v1 paths) and its metadata looked up at once.
"""
from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from live_harness import live_ready
from podman_env import (busybox_image, container_id, podman_ready, run_container,
                        stop_container, unique_name)
from test_live_run import Sensor

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "rules" / "container_rules.yaml"

pytestmark = [
    pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok"),
    pytest.mark.skipif(bool(podman_ready()), reason=podman_ready() or "ok"),
]


def fields(alert: dict) -> dict:
    return alert["output_fields"]


def marker() -> str:
    return f"sensortest-ctr-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def early_container():
    """A container started before the sensor: it keeps opening its marker file."""
    name = unique_name("sensortest-early")
    mark = marker()
    script = f"echo x > /tmp/{mark}; while :; do read l < /tmp/{mark}; sleep 0.2; done"
    got = run_container(["sh", "-c", script], name=name, detach=True)
    assert got.returncode == 0, got.stderr
    yield name, got.stdout.strip(), mark
    stop_container(name)


@pytest.fixture(scope="module", params=["2", "1"], ids=["workers2", "workers1"])
def sensor(request, podman_service, early_container):
    """The sensor with 2 workers (alerts rendered in forked processes, which see
    metadata applied after their fork in the shared container table), then in
    one process."""
    s = Sensor("-r", str(RULES), "--json", "--workers", request.param,
               "-o", f"container_engines.podman.socket={podman_service}",
               "-o", "container_engines.docker.enabled=false")
    yield s
    assert s.stop() == 0, "".join(s.err)
    summary = [line for line in s.err if line.startswith("Containers:")]
    print("\n" + "".join(summary))
    assert summary, "".join(s.err)


def run_marked(sensor, tmp_path, args, *, privileged=False):
    """A `podman run --rm` in the foreground; args: the command, with the marker
    word at MARK.  The alert of the command's exec, its container's full id."""
    name = unique_name("sensortest-ctr")
    mark = marker()
    cidfile = tmp_path / f"{name}.cid"
    got = run_container([mark if a == "MARK" else a for a in args], name=name,
                        privileged=privileged, options=["--cidfile", str(cidfile)])
    assert got.returncode == 0, got.stderr
    full_id = cidfile.read_text().strip()
    cmdline = " ".join(mark if a == "MARK" else a for a in args)
    a = sensor.wait_alert(lambda a: a["rule"] == "Test container exec"
                          and fields(a)["proc.cmdline"] == cmdline)
    return a, name, full_id


def check_container(f: dict, name: str, full_id: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", full_id)
    assert f["container.id"] == full_id[:12]
    assert f["container.name"] == name
    assert f["container.image"] == busybox_image() == "localhost/sensor-busybox:1.0"
    assert f["container.image.repository"] == "localhost/sensor-busybox"
    assert f["container.image.tag"] == "1.0"


def test_short_lived_container_has_its_metadata(sensor, tmp_path):
    """`echo` lives a millisecond: podman may answer the lookup only once the
    container is gone, the name and image then come from its creation event."""
    a, name, full_id = run_marked(sensor, tmp_path, ["echo", "MARK"])
    f = fields(a)
    check_container(f, name, full_id)
    assert f["proc.exepath"] == "/bin/busybox"


def test_container_privileged_false(sensor, tmp_path):
    # the container's first command (exec'd ~30 ms after its first process)
    a, name, full_id = run_marked(sensor, tmp_path, ["sh", "-c", "sleep 1", "MARK"])
    check_container(fields(a), name, full_id)
    assert str(fields(a)["container.privileged"]).lower() == "false"


def test_container_privileged_true(sensor, tmp_path):
    a, name, full_id = run_marked(sensor, tmp_path, ["sh", "-c", "sleep 1", "MARK"],
                                  privileged=True)
    check_container(fields(a), name, full_id)
    assert str(fields(a)["container.privileged"]).lower() == "true"


def test_host_process_is_host(sensor):
    mark = marker()
    subprocess.run(["/bin/echo", mark], stdout=subprocess.DEVNULL, check=True)
    a = sensor.wait_alert(lambda a: a["rule"] == "Test container exec"
                          and fields(a)["proc.cmdline"] == f"echo {mark}")
    f = fields(a)
    assert f["container.id"] == "host" and f["container.name"] == "host"
    assert f["container.image"] is None and f["container.privileged"] is None


def test_container_running_before_the_sensor(sensor, early_container):
    name, full_id, mark = early_container
    assert container_id(name) == full_id
    # an open the sensor saw before the lookup's answer (when it took longer than
    # container_engines.max_wait) would show <NA>: the later ones carry the metadata
    a = sensor.wait_alert(lambda a: a["rule"] == "Test container marker open"
                          and fields(a)["fd.name"] == f"/tmp/{mark}"
                          and fields(a)["container.name"] is not None)
    f = fields(a)
    assert f["proc.name"] == "sh"
    assert f["container.id"] == full_id[:12]
    assert f["container.name"] == name
    assert f["container.image"] == "localhost/sensor-busybox:1.0"
    assert str(f["container.privileged"]).lower() == "false"
