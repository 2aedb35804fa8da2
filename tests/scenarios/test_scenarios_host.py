"""Live scenarios on the host: each does a real suspicious thing, harmless and
cleaned up, and asserts the alert of the default rules (rules/) and, in the
second pass, of Falco's stable rules loaded unchanged (when they cover it).

Each alert is found by a marker of the scenario's own (the pid of the child
it started, a unique path or process name), never by rule name alone.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from sensor.capture.bpf_abi import SYSCALLS
from scenario_lib import (copy_binary, expected_rule, fields, host_ip, is_rfc1918, listener,
                          run, run_py, uid, wait)

DASH = os.path.realpath(shutil.which("dash") or "/bin/sh")
FALCO_CONTAINER_ONLY = "Falco's stable rule only applies in containers (see the container scenarios)"


# ---------------------------------------------------------------------------
# A service reading credentials after startup: started with the module (the
# rules need the process to be more than 5 s old), checked by the last test.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def late_reader(ruleset_sensor, tmp_path_factory):
    nginx = copy_binary(DASH, tmp_path_factory.mktemp("late"), "nginx")
    p = subprocess.Popen([nginx, "-c", "sleep 5.5; exec 3</etc/shadow; exit 0"])
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def test_directory_traversal_read(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Directory traversal read of monitored file",
                         "Directory traversal monitored file read")
    raw = "/tmp/../tmp/../etc/passwd"
    pid, rc = run(["cat", raw])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.name"] == "/etc/passwd"
    assert f["fd.nameraw"] == raw
    assert f["proc.name"] == "cat"


def test_read_sensitive_file_untrusted(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Read sensitive file untrusted",
                         "Read sensitive file untrusted")
    name = uid()[:15]
    reader = copy_binary("cat", tmp_path, name)
    pid, rc = run([reader, "/etc/shadow"])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.name"] == "/etc/shadow"
    assert f["proc.name"] == name
    assert f["proc.exepath"] == str(reader)
    assert f["user.name"] == "root"


def test_write_below_binary_dir(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Write below binary dir", None)
    path = f"/usr/bin/{uid()}"
    try:
        pid, rc = run(["touch", path])
        assert rc == 0
    finally:
        os.unlink(path)
    f = fields(wait(ruleset_sensor, rule, {"fd.name": path}))
    assert f["proc.pid"] == pid and f["proc.name"] == "touch"
    assert "O_CREAT" in f["evt.arg[flags]"]


def test_write_below_etc(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Write below etc", None)
    path = f"/etc/{uid()}"
    try:
        pid, rc = run(["touch", path])
        assert rc == 0
    finally:
        os.unlink(path)
    f = fields(wait(ruleset_sensor, rule, {"fd.name": path}))
    assert f["proc.pid"] == pid and f["proc.cmdline"] == f"touch {path}"


def test_write_rpm_database(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Write below rpm database", None)
    db = Path("/var/lib/rpm")
    made = not db.exists()
    if made:
        db.mkdir()
    path = db / uid()
    try:
        pid, rc = run(["touch", path])
        assert rc == 0
    finally:
        path.unlink()
        if made:
            db.rmdir()
    f = fields(wait(ruleset_sensor, rule, {"fd.name": str(path)}))
    assert f["proc.pid"] == pid


def test_rename_below_binary_dir(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Rename or remove below binary dir", None)
    old, new = f"/usr/bin/{uid()}", f"/usr/bin/{uid()}"
    Path(old).touch()
    try:
        pid, rc = run(["mv", old, new])
        assert rc == 0
    finally:
        for p in (old, new):
            if os.path.exists(p):
                os.unlink(p)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["evt.type"] in ("rename", "renameat", "renameat2")
    assert old in f["evt.args"] and new in f["evt.args"]


def test_mkdir_below_binary_dir(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Directory created below binary dir", None)
    path = f"/usr/local/bin/{uid()}"
    try:
        pid, rc = run(["mkdir", path])
        assert rc == 0
    finally:
        os.rmdir(path)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["evt.arg[path]"] == path


def test_file_created_below_dev(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "File created below dev", None)
    path = f"/dev/{uid()}"
    try:
        pid, rc = run(["touch", path])
        assert rc == 0
    finally:
        os.unlink(path)
    f = fields(wait(ruleset_sensor, rule, {"fd.name": path}))
    assert f["proc.pid"] == pid


def test_symlink_over_sensitive_file(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Symlink over sensitive file",
                         "Create Symlink Over Sensitive Files")
    link = tmp_path / uid()
    pid, rc = run(["ln", "-s", "/etc/shadow", link])
    assert rc == 0
    link.unlink()
    f = fields(wait(ruleset_sensor, rule, {"evt.arg[linkpath]": str(link)}))
    assert f["evt.arg[target]"] == "/etc/shadow"
    assert f["proc.pid"] == pid


def test_hardlink_over_sensitive_file(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Hardlink over sensitive file",
                         "Create Hardlink Over Sensitive Files")
    link = tmp_path / uid()        # same filesystem as /etc here: the link succeeds
    try:
        pid, rc = run(["ln", "/etc/shadow", link])
    finally:
        if link.exists():
            link.unlink()
    f = fields(wait(ruleset_sensor, rule, {"evt.arg[newpath]": str(link)}))
    assert f["evt.arg[oldpath]"] == "/etc/shadow"
    assert f["proc.pid"] == pid


def test_clear_log_file(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Log file truncated", "Clear Log Activities")
    path = f"/var/log/{uid()}.log"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        pid, rc = run(["sh", "-c", f": > {path}"])
        assert rc == 0
    finally:
        os.unlink(path)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.name"] == path
    assert f["proc.name"] == "sh"


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def test_fileless_execution_memfd(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Fileless execution via memfd",
                         "Fileless execution via memfd_create")
    name = uid()
    fd = os.memfd_create(name, 0)
    try:
        with open(shutil.which("true"), "rb") as src:
            os.write(fd, src.read())
        pid, rc = run([f"/proc/self/fd/{fd}"], pass_fds=(fd,))
        assert rc == 0
    finally:
        os.close(fd)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert name in f["proc.exepath"]


def test_execution_from_dev_shm(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Execution from shared memory", "Execution from /dev/shm")
    path = Path("/dev/shm") / uid()
    shutil.copy(shutil.which("true"), path)
    path.chmod(0o755)
    try:
        pid, rc = run([path])
        assert rc == 0
    finally:
        path.unlink()
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.exepath"] == str(path)


def test_shell_spawned_by_web_server(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Shell spawned by a service", "Run shell untrusted")
    nginx = copy_binary(DASH, tmp_path, "nginx")
    pid, rc = run([nginx, "-c", "sh -c 'exit 0'; exit 0"])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.ppid": pid}))
    assert f["proc.name"] == "sh"
    assert f["proc.pname"] == "nginx"


def test_database_spawned_process(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Database server spawned process", None)
    mysqld = copy_binary(DASH, tmp_path, "mysqld")
    pid, rc = run([mysqld, "-c", "/bin/echo sensortest >/dev/null; exit 0"])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.ppid": pid}))
    assert f["proc.name"] == "echo" and f["proc.pname"] == "mysqld"


def test_system_user_interactive(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "System user interactive", "System user interactive")
    marker = uid()
    sshd = copy_binary(DASH, tmp_path, "sshd")
    pid, rc = run([sshd, "-c", f"runuser -u daemon -- /bin/echo {marker} >/dev/null; exit 0"])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.cmdline": f"echo {marker}"}))
    assert f["user.name"] == "daemon"


def test_non_sudo_setuid(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Non sudo setuid", None)
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs /usr/bin/python3 (a Python the daemon user can run)")
    code = "import os\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    pass\n"
    pid, _, _ = run_py(code, python="/usr/bin/python3", user="daemon", group="daemon",
                       extra_groups=[], cwd="/")
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["user.uid"] == 1 and f["user.name"] == "daemon"
    assert "uid=root" in f["evt.args"]


def test_user_management_binary(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "User management binary run", None)
    if not shutil.which("pwck"):
        pytest.skip("pwck is not installed")
    pid, _ = run(["pwck", "-r", "-q"])
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.name"] == "pwck"


SETNS = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
assert libc.setns(fd, 0) == 0, ctypes.get_errno()
"""


def test_setns_by_unexpected_program(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Change thread namespace", None)
    pid, _, _ = run_py(SETNS)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.name"].endswith("/ns/uts")


PTRACE_ATTACH = """
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
p = subprocess.Popen(["sleep", "30"])
try:
    assert libc.ptrace(16, p.pid, None, None) == 0, ctypes.get_errno()   # PTRACE_ATTACH
    os.waitpid(p.pid, 0)
    libc.ptrace(17, p.pid, None, None)                                   # PTRACE_DETACH
finally:
    p.kill()
    p.wait()
print(p.pid)
"""


def test_ptrace_attach(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Ptrace attached to process", "PTRACE attached to process")
    pid, _, out = run_py(PTRACE_ATTACH)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    if ruleset_sensor.ruleset == "sensor":
        assert str(f["evt.arg[pid]"]).startswith(out.strip())
        assert f["evt.arg[request]"] == "PTRACE_ATTACH"


PTRACE_TRACEME = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace(0, 0, None, None)                                            # PTRACE_TRACEME
"""


def test_ptrace_anti_debug(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Ptrace anti-debug attempt", "PTRACE anti-debug attempt")
    pid, _, _ = run_py(PTRACE_TRACEME)
    wait(ruleset_sensor, rule, {"proc.pid": pid})


def test_search_private_keys_find(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Search for private keys or credentials",
                         "Search Private Keys or Passwords")
    pid, _ = run(["find", tmp_path, "-name", "id_rsa"])
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.cmdline"] == f"find {tmp_path} -name id_rsa"


def test_search_private_keys_grep(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Search for private keys or credentials",
                         "Search Private Keys or Passwords")
    pid, _ = run(["grep", "-rl", "BEGIN RSA PRIVATE KEY", tmp_path])
    wait(ruleset_sensor, rule, {"proc.pid": pid})


def test_search_cloud_credentials(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Search for private keys or credentials",
                         "Find AWS Credentials")
    pid, _ = run(["grep", "-ri", "aws_secret_access_key", tmp_path])
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.name"] == "grep"


def test_bulk_data_removal_shred(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Bulk data removal", "Remove Bulk Data from Disk")
    victim = tmp_path / uid()
    victim.write_bytes(b"x" * 4096)
    pid, rc = run(["shred", "-u", victim])
    assert rc == 0 and not victim.exists()
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.name"] == "shred"


def test_bulk_data_removal_rm(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Bulk data removal", None)
    victim = tmp_path / uid()
    for i in range(20):
        (victim / str(i)).mkdir(parents=True)
    pid, rc = run(["rm", "-rf", "--no-preserve-root", victim])
    assert rc == 0 and not victim.exists()
    wait(ruleset_sensor, rule, {"proc.pid": pid})


def test_kernel_module_syscall(ruleset_sensor):
    expected_rule(ruleset_sensor, "Kernel module loaded", "Linux Kernel Module Injection Detected")
    if "finit_module" not in SYSCALLS:
        pytest.skip("init_module/finit_module are not capturable here: this kernel has no "
                    "module support and no tracepoints for them (docs/LIVE.md, Limits)")


def test_kernel_module_tool(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Kernel module tool run", None,
                         "Falco's stable rule matches the init_module syscalls in containers "
                         "only, not the tools")
    module = tmp_path / f"{uid()}.ko"           # missing: insmod fails, nothing loads
    pid, rc = run(["insmod", module])
    assert rc != 0
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.cmdline"] == f"insmod {module}"


BPF_LOAD = """
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
insns = struct.pack("<BBhi", 0xb7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0 = 0; exit
buf = ctypes.create_string_buffer(insns)
lic = ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(struct.pack("<IIQQIIQI", 1, 2, ctypes.addressof(buf),
                                               ctypes.addressof(lic), 0, 0, 0, 0), 128)
fd = libc.syscall(321, 5, attr, 128)                  # bpf(BPF_PROG_LOAD), a socket filter
assert fd >= 0, ctypes.get_errno()
os.close(fd)
"""


def test_bpf_program_load(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "BPF program loaded by unexpected program", None)
    pid, _, _ = run_py(BPF_LOAD)
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["evt.arg[cmd]"] == "BPF_PROG_LOAD"


def test_release_agent_write_host(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Write to cgroup release_agent", None,
                         FALCO_CONTAINER_ONLY)
    path = tmp_path / "release_agent"      # a stand-in: the path is what the rule watches
    pid, rc = run(["sh", "-c", f"echo /x > {path}"])
    assert rc == 0
    wait(ruleset_sensor, rule, {"proc.pid": pid, "fd.name": str(path)})


# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

def test_packet_socket(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Packet socket created", None, FALCO_CONTAINER_ONLY)
    pid, _, _ = run_py("import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()")
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert "AF_PACKET" in f["evt.args"]


def test_netcat_remote_shell(ruleset_sensor, tmp_path):
    rule = expected_rule(ruleset_sensor, "Netcat remote shell", None, FALCO_CONTAINER_ONLY)
    nc = copy_binary("true", tmp_path, "nc")   # the command line is what counts, not netcat
    pid, rc = run([nc, "-e", "/bin/sh", "127.0.0.1", "9"])
    assert rc == 0
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["proc.cmdline"] == "nc -e /bin/sh 127.0.0.1 9"


STDIO_TO_SOCKET = """
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.dup2(s.fileno(), 0)
"""


def test_stdio_redirected_to_socket(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "Stdio redirected to network socket", None,
                         FALCO_CONTAINER_ONLY)
    srv = listener("127.0.0.1")
    port = srv.getsockname()[1]
    try:
        pid, _, _ = run_py(STDIO_TO_SOCKET, port)
    finally:
        srv.close()
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.rport"] == port
    assert f["evt.rawres"] == 0
    assert f["evt.type"] in ("dup2", "dup3")


def test_system_binary_network_activity(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "System binary network activity", None)
    ip = host_ip()
    if not ip:
        pytest.skip("no non-loopback address to connect to")
    srv = listener(ip)
    port = srv.getsockname()[1]
    try:
        pid, rc = run(["bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}; exit 0"])
        assert rc == 0
    finally:
        srv.close()
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.name"].endswith(f"->{ip}:{port}")
    assert f["proc.name"] == "bash"


def _ssh_to(ip: str, port: int) -> int:
    srv = listener(ip, port)

    def close_first():
        try:
            conn, _ = srv.accept()
            conn.close()
        except OSError:
            pass
    t = threading.Thread(target=close_first, daemon=True)
    t.start()
    try:
        pid, _ = run(["ssh", "-F", "/dev/null", "-p", str(port), "-o", "BatchMode=yes",
                      "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
                      "-o", "UserKnownHostsFile=/dev/null", f"sensortest@{ip}", "true"],
                     timeout=15)
    finally:
        srv.close()
        t.join(2)
    return pid


def test_ssh_non_standard_port(ruleset_sensor):
    rule = expected_rule(ruleset_sensor, "SSH connection to non-standard port",
                         "Disallowed SSH Connection Non Standard Port")
    if not shutil.which("ssh"):
        pytest.skip("no ssh client")
    ip = host_ip()
    if not ip:
        pytest.skip("no non-loopback address to connect to")
    if ruleset_sensor.ruleset == "falco" and is_rfc1918(ip):
        pytest.skip(f"Falco's rule ignores private destinations and {ip} is one")
    port = 4444                                 # in Falco's ssh_non_standard_ports
    try:
        pid = _ssh_to(ip, port)
    except OSError as e:
        pytest.skip(f"port {port} is taken here: {e}")
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": pid}))
    assert f["fd.sport" if ruleset_sensor.ruleset == "sensor" else "fd.rport"] == port
    assert f["fd.name"].endswith(f"->{ip}:{port}")


# ---------------------------------------------------------------------------
# Last: the reader started with the module is now more than 5 s old.
# ---------------------------------------------------------------------------

def test_read_sensitive_file_after_startup(ruleset_sensor, late_reader):
    rule = expected_rule(ruleset_sensor, "Read sensitive file trusted after startup",
                         "Read sensitive file trusted after startup")
    f = fields(wait(ruleset_sensor, rule, {"proc.pid": late_reader.pid}, timeout=30))
    assert f["fd.name"] == "/etc/shadow"
    assert f["proc.name"] == "nginx"
    assert late_reader.wait(10) == 0
    if ruleset_sensor.ruleset == "sensor":
        assert f["proc.duration"] > 5_000_000_000

