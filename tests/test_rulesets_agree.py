"""The compiled engine and the reference evaluator agree on Falco's released rulesets.

Realistic rows (the real Builder, the real field registry) are built so that
each rule of falco-rules-5.0.0's stable file both matches some rows and misses
others: targeted hits (a web server spawning a shell, /etc/shadow read by an
untrusted program, ssh to port 443, ...), near misses (the same row with one
condition broken), and a seeded random mix of processes, containers and events
of the rules' event types.  Both evaluators run with rule_matching "all" and must
give the same (row, rule) pairs.  Each ruleset is compiled once per test session,
into the session's cache directory (cold, on this 2-core VM: the stable rules
~20 s, falco-0.31.1 ~55 s; see perf/RESULTS.md).

falco-0.31.1: all its rules, on the same rows and on other random rows:
agreement only.
"""
import os
import random
from pathlib import Path

import pytest

from sensor.compile.reference import run as reference_run
from sensor.engine import Engine
from sensor.events.builder import Builder

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
RULESETS = SHARED / "rulesets"
STABLE = RULESETS / "falco-rules-5.0.0" / "falco_rules.yaml"
OLD = RULESETS / "falco-0.31.1" / "falco_rules.yaml"

pytestmark = pytest.mark.skipif(not STABLE.exists(),
                                reason=f"Falco's rulesets not found in {RULESETS}")

# Rules whose condition cannot hold on any row this sensor produces (documented reason).
NEVER = {
    # fd.sip.name needs a DNS source; the sensor has none yet, so the field is absent.
    "Contact K8S API Server From Container",
}

T0 = 1_700_000_000_000_000_000          # the Builder's default event time base
OLD_START = 1_600_000_000_000_000_000   # a process started long before its events
CAP = {"CAP_DAC_OVERRIDE": 1, "CAP_SYS_MODULE": 16, "CAP_SYS_ADMIN": 21, "CAP_CHOWN": 0}


def caps(*names):
    v = 0
    for n in names:
        v |= 1 << CAP[n]
    return v


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    # generated kernels go to the session's cache directory (as standin.use_test_cache),
    # unless SENSOR_CACHE_DIR names one that outlives the session
    os.environ.setdefault("SENSOR_CACHE_DIR",
                          str(tmp_path_factory.getbasetemp() / "sensor-cache"))


def _engine(path):
    eng = Engine(rule_matching="all")
    eng.load_rules_file(str(path))
    eng.compile()
    return eng


@pytest.fixture(scope="module")
def stable():
    return _engine(STABLE)


@pytest.fixture(scope="module")
def old():
    if not OLD.exists():
        pytest.skip(f"{OLD} not found")
    return _engine(OLD)


# ------------------------------------------------------------------ the world

class World:
    """A Builder with a pool of containers and processes (parent chains)."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.b = Builder()
        b = self.b
        self.web = b.add_container(id="3ad7b26ded6d", name="web", image="nginx:1.25",
                                   privileged=False)
        self.priv = b.add_container(id="9f00aa11bb22", name="priv", image="alpine:3.19",
                                    privileged=True)
        self.falco = b.add_container(id="fa1c0fa1c0aa", name="falco",
                                     image="falcosecurity/falco:0.39",
                                     privileged=True)
        self.fluent = b.add_container(id="f1f1f1f1f1f1", name="fl",
                                      image="docker.io/splunk/fluentd-hec:1.2")
        self.containers = [-1, -1, self.web, self.priv, self.falco, self.fluent]
        self.pid = 100
        self.procs = []
        init = self.proc("systemd", exe="/sbin/init", start_ts=OLD_START)
        self.init = init

    def proc(self, comm, parent=-1, exe=None, args=(), container=-1, tty=0, flags=0,
             start_ts=OLD_START, exepath=None, cmdline=None):
        self.pid += 1
        s = self.b.add_proc(pid=self.pid, comm=comm, exe=exe if exe is not None else comm,
                            exepath=exepath, args=args, parent=parent, container=container,
                            tty=tty, flags=flags, start_ts=start_ts, cmdline=cmdline)
        self.procs.append(s)
        return s

    def chain(self, names, container=-1, **last):
        """A parent chain from init: names[0] is the eldest; the last gets **last."""
        s = self.init
        for k, n in enumerate(names):
            kw = last if k == len(names) - 1 else {}
            s = self.proc(n, parent=s, container=container, **kw)
        return s

    # events
    def execve(self, slot, **cols):
        return self.b.add_event("execve", slot=slot, res=0, **cols)

    def open(self, slot, path, flags="O_RDONLY", res=3, raw=None, etype="openat", **cols):
        params = {"name": raw or path, "flags": flags, "mode": 0}
        if etype in ("openat", "openat2"):
            params["dirfd"] = -100
        return self.b.add_event(etype, slot=slot, res=res, fd=res, fd_type="f" if res >= 0
                                or "O_CREAT" not in flags else "f",
                                fd_name=path, fd_nameraw=raw or path, params=params, **cols)

    def connect(self, slot, sip, sport, l4="tcp", res=0, etype="connect", cip=None, **cols):
        if cip is None:                       # loopback: both ends in 127.0.0.0/8
            cip = "127.0.0.1" if sip.startswith("127.") else \
                "10.0.0.5" if ":" not in sip else "fd00::5"
        proto = {"tcp": 6, "udp": 17}[l4]
        tup = f"{cip}:40000->{sip}:{sport}"
        params = {"fd": 7, "tuple": tup} if etype == "connect" else {"fd": 7, "size": 4,
                                                                      "tuple": tup}
        cols.setdefault("fd_connected", 1 if etype == "connect" else 0)
        return self.b.add_event(etype, slot=slot, res=res, fd=7,
                                fd_type="6" if ":" in sip else "4", fd_name=tup,
                                fd_cip=cip, fd_sip=sip, fd_cport=40000, fd_sport=sport,
                                fd_role="client", fd_l4proto=proto, params=params, **cols)


ROOT = dict(uid=0, gid=0, user_name="root", group_name="root")
WWW = dict(uid=33, gid=33, user_name="www-data", group_name="www-data")


def targeted(w: World):
    """Rows hitting each stable rule on purpose, each followed by near misses."""
    b = w.b
    shells = ["bash", "sh", "zsh", "dash"]
    # 0 Directory traversal monitored file read
    py = w.chain(["sshd", "python3"])
    w.open(py, "/etc/passwd", raw="/var/www/../../etc/passwd", **ROOT)          # hit
    w.open(py, "/etc/passwd", raw="/var/www/../etc/passwd", **ROOT)             # one ../
    w.open(py, "/tmp/passwd", raw="/var/www/../../tmp/passwd", **ROOT)          # not /etc
    sh_child = w.chain(["sshd", "bash", "cat"])
    w.open(sh_child, "/etc/passwd", raw="/a/../../etc/passwd", **ROOT)          # parent shell
    w.open(py, "/etc/passwd", raw="/a/../../etc/passwd", res=-2, flags="O_RDONLY")  # ENOENT
    # 1 Read sensitive file trusted after startup / 2 untrusted
    ng = w.chain(["nginx"], start_ts=OLD_START)
    young = w.chain(["nginx"], start_ts=T0 - 1_000_000_000)
    w.open(ng, "/etc/shadow", **ROOT)                                           # 1 hit
    w.open(young, "/etc/shadow", **ROOT)                                        # 2s old: miss
    w.open(ng, "/etc/pam.d/common-auth", **ROOT)                                # directory
    w.open(ng, "/etc/shadow", flags="O_WRONLY", **ROOT)                         # not a read
    w.open(ng, "/etc/shadowx", **ROOT)
    nostart = w.chain(["httpd"], start_ts=0)
    w.open(nostart, "/etc/sudoers", **ROOT)                                     # duration absent
    evil = w.chain(["sshd", "bash", "python3"], args=["steal.py"])
    ans = w.chain(["sshd", "python3"], args=["-m", "ansible"])
    sudo = w.chain(["sshd", "bash", "sudo"])
    w.open(evil, "/etc/shadow", **ROOT)                                         # 2 hit
    w.open(ans, "/etc/shadow", **ROOT)                                          # ansible
    w.open(sudo, "/etc/shadow", **ROOT)                                         # allowed
    w.open(evil, "/etc/shadow", res=-13, **ROOT)                                # failed
    w.open(evil, "/etc/shadow", num=0, **ROOT)                                  # evt.num = 0
    cp = w.chain(["passwd", "cp"])
    w.open(cp, "/etc/shadow")
    # 3 Run shell untrusted
    for sh in shells:
        s = w.chain(["nginx", sh])
        w.execve(s, **WWW)                                                      # hit
    s = w.chain(["nginx", "bash", "sh"])                                        # parent a shell
    w.execve(s)
    jv = w.proc("java", exe="/usr/lib/jvm/bin/java", parent=w.init,
                args=["-cp", "x", "org.apache.zookeeper.server.Quorum"])
    w.execve(w.proc("sh", parent=jv, args=["-c", "id"]))                        # hit via java
    w.execve(w.proc("sh", parent=jv, args=["-c", "uname -a 2>&1"]))
    ngx = w.chain(["nginx"])
    w.execve(w.proc("sh", parent=ngx, args=["-c", "uname", "-a", "2>&1"]))      # allowed cmdline
    w.execve(w.proc("sh", parent=w.init))                                       # no web ancestor
    # 4 System user interactive
    sd = w.chain(["sshd", "bash"])
    w.execve(sd, **WWW)                                                         # hit
    w.execve(sd, **ROOT)
    w.execve(w.chain(["sshd"]), **WWW)                                          # proc.name sshd
    w.execve(w.chain(["login"]), uid=1, user_name="daemon")                     # hit via login
    # 5 Terminal shell in container
    runc = w.proc("runc:[1:CHILD]", parent=-1, container=w.web)
    w.execve(w.proc("bash", parent=runc, container=w.web, tty=34816))           # hit
    w.execve(w.proc("bash", parent=runc, container=w.web, tty=0))               # no tty
    w.execve(w.proc("bash", parent=-1, container=w.web, tty=34817))             # no parent: hit
    w.execve(w.proc("bash", parent=runc, container=-1, tty=34816))              # host
    # 7 Netcat
    w.execve(w.proc("nc", parent=runc, container=w.web, args=["-e", "/bin/sh", "1.2.3.4"]))
    w.execve(w.proc("nc", parent=runc, container=w.web, args=["1.2.3.4", "80"]))
    w.execve(w.proc("ncat", parent=runc, container=w.web, args=["--sh-exec", "x"]))
    w.execve(w.proc("nc", parent=w.init, args=["-e", "/bin/sh"]))               # host
    # 8 Search private keys / 20 AWS credentials
    sh = w.chain(["sshd", "bash"])
    for args in (["-r", "BEGIN RSA PRIVATE", "/"], ["-ri", "begin private", "/home"],
                 ["-r", "PRIVATE", "/"], ["aws_secret_access_key", "-r", "/"],
                 ["-R", "AccessKeyId", "."]):
        w.execve(w.proc("grep", parent=sh, args=args))
    w.execve(w.proc("egrep", parent=sh, args=["BEGIN EC PRIVATE"]))
    w.execve(w.proc("find", parent=sh, args=["/", "-name", "id_rsa"]))
    w.execve(w.proc("find", parent=sh, args=["/", "-path", "*/.aws/credentials"]))
    w.execve(w.proc("find", parent=sh, args=["/", "-name", "*.pem"]))
    w.execve(w.proc("cat", parent=sh, args=["id_rsa"]))
    # 9 Clear log activities
    lg = w.chain(["sshd", "bash", "truncate"])
    w.open(lg, "/var/log/syslog", flags="O_WRONLY|O_TRUNC", **ROOT)             # hit
    w.open(lg, "/var/log/syslog", flags="O_WRONLY|O_APPEND", **ROOT)            # no O_TRUNC
    w.open(lg, "/home/x/auth.log", flags="O_RDWR|O_CREAT|O_TRUNC", **ROOT)      # hit by name
    w.open(lg, "/var/log/app/x.log", flags="O_WRONLY|O_TRUNC", **ROOT)          # subdirectory
    fl = w.proc("fluentd", parent=-1, container=w.fluent)
    w.open(fl, "/var/log/syslog", flags="O_WRONLY|O_TRUNC")                     # allowed image
    # 10 Remove bulk data
    for n in ("shred", "mkfs", "mke2fs", "mkfs.ext4"):
        w.execve(w.proc(n, parent=sh))
    # 11/12 symlinks and hardlinks
    b.add_event("symlinkat", slot=sh, res=0, params={"target": "/etc/shadow", "linkdirfd": -100,
                                                     "linkpath": "/tmp/s"})
    b.add_event("symlink", slot=sh, res=0, params={"target": "/root/", "linkpath": "/tmp/r"})
    b.add_event("symlink", slot=sh, res=0, params={"target": "/etc/hosts",
                                                   "linkpath": "/tmp/h"})
    b.add_event("symlinkat", slot=sh, res=0, params={"linkpath": "/tmp/none"})  # no target
    b.add_event("linkat", slot=sh, res=0, params={"olddir": -100, "oldpath": "/etc/sudoers",
                                                  "newdir": -100, "newpath": "/tmp/x",
                                                  "flags": 0})
    b.add_event("link", slot=sh, res=0, params={"oldpath": "/etc/shadow.bak",
                                                "newpath": "/tmp/y"})
    # 13 packet socket
    tcpd = w.proc("tcpdump", parent=runc, container=w.web)
    b.add_event("socket", slot=tcpd, res=5, params={"domain": "AF_PACKET", "type": 3,
                                                    "proto": 768})
    b.add_event("socket", slot=tcpd, res=5, params={"domain": "AF_INET", "type": 1,
                                                    "proto": 0})
    b.add_event("socket", slot=w.chain(["tcpdump"]), res=5,
                params={"domain": "AF_PACKET", "type": 3, "proto": 768})          # host
    # 14 redirect stdio to a socket
    rs = w.proc("bash", parent=runc, container=w.web)
    for etype, res, ft in (("dup2", 0, "4"), ("dup3", 2, "6"), ("dup2", 3, "4"),
                           ("dup", 1, "u"), ("dup2", 1, "4")):
        b.add_event(etype, slot=rs, res=res, fd=res, fd_type=ft, fd_name="x")
    # 15 kernel module
    ins = w.proc("insmod", parent=runc, container=w.priv)
    b.add_event("init_module", slot=ins, res=0, cap_effective=caps("CAP_SYS_MODULE"),
                params={"length": 10, "uargs": ""})
    b.add_event("finit_module", slot=ins, res=0, cap_effective=caps("CAP_CHOWN"),
                params={"fd": 3, "uargs": "", "flags": 0})
    b.add_event("finit_module", slot=w.chain(["insmod"]), res=0,
                cap_effective=caps("CAP_SYS_MODULE"), params={"fd": 3, "uargs": "", "flags": 0})
    # 16 debugfs
    w.execve(w.proc("debugfs", parent=-1, container=w.priv))
    w.execve(w.proc("debugfs", parent=-1, container=w.web))
    # 17 release_agent
    esc = w.proc("sh", parent=-1, container=w.priv)
    w.open(esc, "/sys/fs/cgroup/x/release_agent", flags="O_WRONLY",
           cap_effective=caps("CAP_SYS_ADMIN"), **ROOT)                          # hit
    w.open(esc, "/sys/fs/cgroup/x/release_agent", flags="O_WRONLY", uid=1000,
           user_name="u", cap_effective=caps("CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"))  # hit
    w.open(esc, "/sys/fs/cgroup/x/release_agent", flags="O_WRONLY", uid=1000,
           user_name="u", cap_effective=caps("CAP_SYS_ADMIN"))                   # miss
    w.open(esc, "/sys/fs/cgroup/x/release_agent", flags="O_RDONLY",
           cap_effective=caps("CAP_SYS_ADMIN"), **ROOT)                          # read
    # 18/19 ptrace
    for req in ("PTRACE_ATTACH", "PTRACE_POKEDATA", "PTRACE_TRACEME", "PTRACE_PEEKDATA",
                "PTRACE_SEIZE", "PTRACE_CONT"):
        b.add_event("ptrace", slot=sh, res=0, params={"request": req, "pid": 5, "addr": 0,
                                                      "data": 0})
    b.add_event("ptrace", slot=-1, res=0, params={"request": "PTRACE_ATTACH", "pid": 5})
    # 21 /dev/shm
    w.execve(w.proc("x", exe="/dev/shm/x", parent=sh))
    w.execve(w.proc("bash", parent=sh, args=["-c", "/dev/shm/run.sh"]))
    w.execve(w.proc("y", exe="./y", parent=sh), cwd="/dev/shm/")
    w.execve(w.proc("y", exe="./y", parent=sh), cwd="/tmp/")
    w.execve(w.proc("x", exe="/dev/shm/x", parent=-1, container=w.falco))      # allowed image
    # 22 drop and execute
    w.execve(w.proc("payload", parent=runc, container=w.web, flags=2))
    w.execve(w.proc("payload", parent=w.init, flags=2))
    w.execve(w.proc("ls", parent=runc, container=w.web, flags=0))
    # 23 ssh to a non standard port
    ssh = w.chain(["sshd", "bash", "ssh"], exe="/usr/bin/ssh")
    w.connect(ssh, "1.2.3.4", 443)                                              # hit
    w.connect(ssh, "1.2.3.4", 22)
    w.connect(ssh, "10.1.2.3", 443)                                             # private
    w.connect(ssh, "127.0.0.1", 443)
    w.connect(ssh, "2001:db8::7", 8080)                                         # hit, IPv6
    w.connect(ssh, "1.2.3.4", 443, res=-115)                                    # EINPROGRESS
    w.connect(ssh, "1.2.3.4", 443, res=-111)                                    # ECONNREFUSED
    w.connect(ssh, "1.2.3.4", 53, l4="udp", etype="sendto", fd_name_changed=1)
    w.connect(w.chain(["curl"]), "1.2.3.4", 443)
    # 24 memfd
    w.execve(w.proc("x", parent=sh, flags=1))
    w.execve(w.proc("runc", parent=sh, flags=1))
    w.execve(w.proc("x", parent=sh, flags=4))


# -------------------------------------------------------------- random realistic rows

NAMES = ["bash", "sh", "zsh", "nginx", "httpd", "sshd", "python3", "sudo", "cat", "grep",
         "find", "nc", "ncat", "shred", "debugfs", "ssh", "runc", "java", "node", "login",
         "containerd", "cron", "passwd", "cp", "systemd-logind", "apt-get", "x", "mysqld",
         "runc:[1:CHILD]", "tcpdump", "insmod", "postgres", "redis-server", "crontab",
         "pkexec", "nmap"]
ARGS = [[], ["-c", "ls"], ["-e", "/bin/sh"], ["-r", "BEGIN PRIVATE KEY"], ["aws_access_key_id"],
        ["-c", "/dev/shm/x"], ["/", "-name", "id_rsa"], ["--exec", "sh"], ["-m", "ansible"],
        ["-i", "/dev/shm/y"], [".aws/credentials"], ["-a"], ["-c", "uname -a 2>&1"]]
EXES = [None, "/usr/bin/ssh", "/dev/shm/x", "./a.out", "/usr/lib/jvm/bin/java", "/bin/sh",
        "memfd:runc_cloned:/proc/self/exe"]
PATHS = ["/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/pam.d/sshd", "/etc/sudoers.d/x",
         "/var/log/syslog", "/var/log/auth.log", "/dev/log/x", "/tmp/a", "/root/.ssh/id_rsa",
         "/home/bob/.ssh/authorized_keys", "/sys/fs/cgroup/release_agent", "/etc/pam.conf",
         "/home/x/cron", "/var/log/app/yum.log", "/usr/bin/evil", "/dev/evil", "/etc/crontab",
         "/root/.bash_history", "/var/spool/cron/crontabs/root"]
RAWS = [None, "../../etc/shadow", "/a/../../etc/passwd", "x/../y", "/a/b/../../../etc/pam.conf"]
OPEN_FLAGS = ["O_RDONLY", "O_WRONLY", "O_RDWR|O_CREAT|O_TRUNC", "O_WRONLY|O_TRUNC",
              "O_RDONLY|O_CLOEXEC", "O_WRONLY|O_APPEND|O_CREAT"]
IPS = ["1.2.3.4", "10.0.0.9", "127.0.0.1", "192.168.1.1", "172.20.0.3",
       "2001:db8::1", "::1"]
PORTS = [22, 53, 80, 443, 4444, 8080, 9999]
USERS = [(0, "root"), (33, "www-data"), (1, "daemon"), (1000, "alice"), (65534, "nobody")]
LINK_TARGETS = ["/etc/shadow", "/etc", "/root", "/etc/hosts", "/", "/tmp/x"]
PTRACE = ["PTRACE_ATTACH", "PTRACE_TRACEME", "PTRACE_PEEKUSR", "PTRACE_SEIZE",
          "PTRACE_SETREGS", "PTRACE_CONT"]


def random_rows(w: World, n):
    rnd, b = w.rnd, w.b
    procs = [w.init]
    for _ in range(60):
        parent = rnd.choice(procs + [-1])
        cont = rnd.choice(w.containers)
        procs.append(w.proc(rnd.choice(NAMES), parent=parent, exe=rnd.choice(EXES),
                            args=rnd.choice(ARGS), container=cont,
                            tty=rnd.choice([0, 0, 34816]), flags=rnd.choice([0, 0, 1, 2, 4]),
                            start_ts=rnd.choice([0, OLD_START, T0])))
    for _ in range(n):
        slot = rnd.choice(procs + [-1])
        uid, uname = rnd.choice(USERS)
        user = dict(uid=uid, user_name=uname)
        kind = rnd.random()
        capv = rnd.choice([0, caps("CAP_SYS_ADMIN"), caps("CAP_SYS_MODULE", "CAP_DAC_OVERRIDE"),
                           caps("CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE")])
        num = {} if rnd.random() > 0.03 else {"num": 0}
        if kind < 0.35:
            path = rnd.choice(PATHS)
            res = rnd.choice([3, 3, 3, -2, -13])
            w.open(slot, path, flags=rnd.choice(OPEN_FLAGS), res=res, raw=rnd.choice(RAWS),
                   etype=rnd.choice(["open", "openat", "openat2"]), cap_effective=capv,
                   **user, **num)
        elif kind < 0.65:
            b.add_event(rnd.choice(["execve", "execve", "execveat"]), slot=slot,
                        res=rnd.choice([0, 0, -2]), cwd=rnd.choice([None, "/dev/shm/", "/tmp"]),
                        **user, **num)
        elif kind < 0.78:
            w.connect(slot, rnd.choice(IPS), rnd.choice(PORTS), l4=rnd.choice(["tcp", "udp"]),
                      res=rnd.choice([0, 0, -115, -111]),
                      etype=rnd.choice(["connect", "connect", "sendto", "sendmsg"]),
                      fd_name_changed=rnd.randint(0, 1), **num)
        elif kind < 0.83:
            t = rnd.choice(["symlink", "symlinkat", "link", "linkat"])
            target = rnd.choice(LINK_TARGETS)
            params = ({"target": target, "linkpath": "/tmp/l"} if t.startswith("sym")
                      else {"oldpath": target, "newpath": "/tmp/l"})
            b.add_event(t, slot=slot, res=0, params=params)
        elif kind < 0.87:
            b.add_event("socket", slot=slot, res=4, params={
                "domain": rnd.choice(["AF_PACKET", "AF_INET", "AF_UNIX"]), "type": 3,
                "proto": 0})
        elif kind < 0.92:
            res = rnd.choice([0, 1, 2, 5])
            b.add_event(rnd.choice(["dup", "dup2", "dup3"]), slot=slot, res=res, fd=res,
                        fd_type=rnd.choice(["4", "6", "u", "f"]), **num)
        elif kind < 0.95:
            b.add_event(rnd.choice(["init_module", "finit_module"]), slot=slot, res=0,
                        cap_effective=capv)
        elif kind < 0.97:
            b.add_event("ptrace", slot=slot, res=0, params={"request": rnd.choice(PTRACE),
                                                            "pid": 9})
        elif kind < 0.985:
            d = rnd.choice(["<", ">"])
            b.add_event("setuid", dir=d, slot=slot, res=rnd.choice([0, -1]) if d == "<" else 0,
                        **user, params={"uid": rnd.choice([(0, "root"), (1000, "alice"),
                                                           4242])})
        else:
            b.add_event("chmod", slot=slot, res=0, params={"filename": rnd.choice(PATHS),
                                                           "mode": rnd.choice([0o4755, 0o755])})


def world(seed, n):
    w = World(seed)
    targeted(w)
    random_rows(w, n)
    return w.b.build()


@pytest.fixture(scope="module")
def rows():
    return world(20261127, 3000)


def test_stable_rules_agree_and_each_matches_and_misses(stable, rows):
    B, P, C = rows
    assert int(B.n[0]) > 3000
    got = stable.evaluate(B, P, C).pairs()
    want = reference_run(stable.rules, B, P, C, "all")
    assert got == want
    by_rule = {}
    for row, rid in got:
        by_rule.setdefault(rid, set()).add(row)
    rules = [r for r in stable.rules if r.enabled]
    assert len(rules) == 25
    for r in rules:
        hits = by_rule.get(r.id, set())
        if r.name in NEVER:
            assert not hits, r.name
            continue
        assert hits, f"rule {r.name!r} matched no row"
        own = [i for i in range(int(B.n[0])) if r.evttypes is None
               or int(B.type[i]) in r.evttypes]
        assert len(own) > len(hits), f"rule {r.name!r} matched every row of its types"


# `fd.ip != X`, `fd.net != N` and `fd.port != P` hold in Falco only if *neither*
# end of the connection matches (libsinsp compare_ip / compare_net / compare_port).

def both_ends_rows():
    w = World(7)
    ssh = w.chain(["sshd", "bash", "ssh"], exe="/usr/bin/ssh")
    w.connect(ssh, "127.0.0.1", 443, cip="10.0.0.5")      # server end in 127.0.0.0/8
    w.connect(ssh, "0.0.0.0", 8080, cip="10.0.0.5")       # server end 0.0.0.0
    w.connect(ssh, "1.2.3.4", 443)                        # a real hit, for contrast
    return w.b.build()


def test_stable_ssh_rule_both_ends_not_equal(stable):
    B, P, C = both_ends_rows()
    want = reference_run(stable.rules, B, P, C, "all")
    ssh_rule = next(r.id for r in stable.rules if r.name.startswith("Disallowed SSH"))
    assert [row for row, rid in want if rid == ssh_rule] == [2]        # Falco's answer
    assert stable.evaluate(B, P, C).pairs() == want


def test_falco_0_31_rules_compile_whole(old):
    rules = [r for r in old.rules if r.enabled]
    assert len(rules) >= 60
    gen = old.generate()
    assert {rid for _, _, rid in gen.line_rules} == {r.id for r in rules}


def test_falco_0_31_rules_agree(old, rows):
    fired = set()
    for B, P, C in (rows, world(31, 3000)):
        got = old.evaluate(B, P, C).pairs()
        assert got == reference_run(old.rules, B, P, C, "all")
        fired |= {rid for _, rid in got}
    assert len(fired) >= 20                            # a fair share of the rules fire
