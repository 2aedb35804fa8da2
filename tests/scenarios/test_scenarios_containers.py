"""Live scenarios in real podman containers (tests/podman_env.py: a local
busybox image, runc): each does a real suspicious thing inside a container and
asserts the alert of the default rules and, in the second pass, of Falco's
stable rules loaded unchanged.

Alerts are found by the container's id (podman's --cidfile, first 12 hex
digits), which the sensor takes from the process's cgroup.  Skipped, with the
reason, when podman cannot run containers here.
"""
from __future__ import annotations

import threading

import pytest

from scenario_lib import expected_rule, fields, host_ip, listener

try:
    import podman_env
except ImportError:                  # container support not there yet
    podman_env = None

NOT_CAPTURABLE = ("init_module/finit_module are not capturable here: this kernel has no "
                  "module support and no tracepoints for them (docs/LIVE.md, Limits)")


def _why_not() -> str:
    if podman_env is None:
        return "tests/podman_env.py is missing: no podman containers"
    return podman_env.podman_ready()


@pytest.fixture(autouse=True)
def _podman():
    why = _why_not()
    if why:
        pytest.skip(why)


def in_container(tmp_path, args, *, privileged=False, options=()):
    """Run `args` in a fresh container; (its name, its 12-hex id, the result)."""
    name = podman_env.unique_name("sensortest-scn")
    cidfile = tmp_path / f"{name}.cid"
    got = podman_env.run_container([str(a) for a in args], name=name, privileged=privileged,
                                   options=["--cidfile", str(cidfile), *options], timeout=90)
    assert cidfile.exists(), got.stderr
    return name, cidfile.read_text().strip()[:12], got


def wait_ctr(sensor, rule, cid, timeout=30.0, **match):
    """The alert of `rule` from container `cid` (and the given output fields)."""
    want = {k.replace("_", ".", 1): v for k, v in match.items()}
    return sensor.wait_alert(
        lambda a: a["rule"] == rule and fields(a).get("container.id") == cid
        and all(fields(a).get(k) == v for k, v in want.items()), timeout=timeout)


def check_container_fields(sensor, f: dict, name: str) -> None:
    """Our outputs name the container (podman's API, see conftest.py); Falco's
    get container.name appended."""
    assert f["container.name"] == name


def test_terminal_shell_in_container(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Terminal shell in container",
                         "Terminal shell in container")
    name, cid, got = in_container(tmp_path, ["sh", "-c", "exit 0"], options=["-t"])
    assert got.returncode == 0, got.stderr
    f = fields(wait_ctr(ruleset_sensor, rule, cid, proc_name="sh"))
    assert f["proc.tty"] != 0
    check_container_fields(ruleset_sensor, f, name)


def test_packet_socket_in_container(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Packet socket created", "Packet socket created in container")
    # arping opens its AF_PACKET socket first; on lo it then gives up (no ARP there)
    name, cid, _ = in_container(tmp_path, ["arping", "-c", "1", "-w", "1", "-I", "lo", "127.0.0.1"],
                                options=["--cap-add", "NET_RAW"])
    f = fields(wait_ctr(ruleset_sensor, rule, cid))
    assert f["proc.name"] == "arping"
    check_container_fields(ruleset_sensor, f, name)


@pytest.fixture(scope="module")
def netcat_shell(ruleset_sensor, tmp_path_factory):
    """busybox nc connecting back to a listener on the host, with -e: it makes
    the socket its stdin and stdout (dup2) and runs the program."""
    if _why_not():
        pytest.skip(_why_not())
    ip = host_ip()
    if not ip:
        pytest.skip("no host address the containers can reach")
    srv = listener(ip)
    port = srv.getsockname()[1]

    def accept_and_close():
        try:
            conn, _ = srv.accept()
            conn.close()
        except OSError:
            pass
    t = threading.Thread(target=accept_and_close, daemon=True)
    t.start()
    try:
        name, cid, got = in_container(tmp_path_factory.mktemp("nc"),
                                      ["nc", ip, port, "-e", "/bin/true"])
    finally:
        srv.close()
        t.join(2)
    return name, cid, ip, port


def test_netcat_remote_shell_in_container(ruleset_sensor, netcat_shell):
    rule = expected_rule(ruleset_sensor, "Netcat remote shell",
                         "Netcat Remote Code Execution in Container")
    name, cid, ip, port = netcat_shell
    f = fields(wait_ctr(ruleset_sensor, rule, cid))
    assert f["proc.cmdline"] == f"nc {ip} {port} -e /bin/true"
    check_container_fields(ruleset_sensor, f, name)


def test_stdio_redirected_to_socket_in_container(ruleset_sensor, netcat_shell):
    rule = expected_rule(ruleset_sensor, "Stdio redirected to network socket",
                         "Redirect STDOUT/STDIN to Network Connection in Container")
    name, cid, ip, port = netcat_shell
    f = fields(wait_ctr(ruleset_sensor, rule, cid))
    assert f["proc.name"] == "nc"
    if ruleset_sensor.ruleset == "sensor":
        assert f["fd.name"].endswith(f"->{ip}:{port}")
        assert f["evt.rawres"] in (0, 1)
    check_container_fields(ruleset_sensor, f, name)


def test_release_agent_in_container(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Write to cgroup release_agent",
                         "Detect release_agent File Container Escapes")
    # A file named release_agent in the container's /tmp: the rules watch the
    # name (and, Falco's, CAP_SYS_ADMIN); a real cgroup's release_agent would
    # be a real escape.
    name, cid, got = in_container(tmp_path, ["sh", "-c", "echo /x > /tmp/release_agent"],
                                  privileged=True)
    assert got.returncode == 0, got.stderr
    f = fields(wait_ctr(ruleset_sensor, rule, cid, fd_name="/tmp/release_agent"))
    if ruleset_sensor.ruleset == "sensor":
        assert "CAP_SYS_ADMIN" in f["thread.cap_effective"]
    check_container_fields(ruleset_sensor, f, name)


def test_drop_and_execute_in_container(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Binary dropped and run in container",
                         "Drop and execute new binary in container")
    name, cid, _ = in_container(
        tmp_path, ["sh", "-c", "cp /bin/busybox /tmp/sensortest-drop && /tmp/sensortest-drop true"])
    f = fields(wait_ctr(ruleset_sensor, rule, cid))
    assert f["proc.name"] == "sensortest-drop"
    assert f["proc.exepath"] == "/tmp/sensortest-drop"
    check_container_fields(ruleset_sensor, f, name)


def test_kernel_module_tool_in_container(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Kernel module tool run", None,
                         "Falco's stable rule matches the init_module/finit_module syscalls "
                         "(not capturable here), not the tools")
    name, cid, got = in_container(tmp_path, ["insmod", "/tmp/sensortest.ko"])
    assert got.returncode != 0                   # no such module: nothing loads
    f = fields(wait_ctr(ruleset_sensor, rule, cid))
    assert f["proc.cmdline"] == "insmod /tmp/sensortest.ko"
    check_container_fields(ruleset_sensor, f, name)


def test_kernel_module_syscall_in_container(ruleset_sensor):
    expected_rule(ruleset_sensor, "Kernel module loaded", "Linux Kernel Module Injection Detected")
    pytest.skip(NOT_CAPTURABLE)
