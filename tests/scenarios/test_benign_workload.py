"""Ordinary host activity under the sensor with the default rules raises no
alert: package operations (simulated installs, queries), a C build with gcc
and make, git in a scratch repository, and Python running some of this
project's unit tests.

The workload runs in a session of its own (start_new_session) and the sensor
appends proc.sid to every alert (append_output, see conftest.py), so its
alerts are told apart from everything else this shared machine does.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from scenario_lib import ROOT, fields, run, uid

HELLO_C = """\
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("hello %zu\\n", argc > 1 ? strlen(argv[1]) : 0);
    return 0;
}
"""

MAKEFILE = """\
CC ?= gcc
CFLAGS ?= -O2 -Wall
hello: hello.o
\t$(CC) $(CFLAGS) -o $@ $^
hello.o: hello.c
\t$(CC) $(CFLAGS) -c -o $@ $<
clean:
\trm -f hello hello.o
.PHONY: clean
"""

WORKLOAD = textwrap.dedent("""\
    set -eu
    # package operations: simulated installs and queries
    apt-get -s install hello >/dev/null
    apt-get -s -o Debug::NoLocking=1 install --no-install-recommends make gcc >/dev/null
    dpkg -l >/dev/null
    dpkg -s bash >/dev/null
    dpkg -L coreutils >/dev/null
    apt-cache policy bash gcc >/dev/null
    apt-cache show make >/dev/null
    # a build
    make -s
    ./hello world >/dev/null
    gcc -O2 -Wall -o hello2 hello.c && ./hello2 >/dev/null
    if command -v clang >/dev/null; then clang -O2 -c -o hello3.o hello.c; fi
    make -s clean
    # git in a scratch repository
    git init -q repo
    cd repo
    git config user.name sensortest && git config user.email sensortest@example.invalid
    cp ../hello.c . && git add hello.c && git commit -q -m "first"
    echo "/* more */" >> hello.c && git commit -qam "second"
    git log --oneline >/dev/null && git status --short >/dev/null && git diff HEAD~1 >/dev/null
    git branch -q topic && git checkout -q topic && git checkout -q -
    cd ..
    # python: some of this project's unit tests
    cd "$SENSOR_ROOT"
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_parser.py tests/test_config.py
    """)


# Only the default rules: the session's sensor of that ruleset.
@pytest.mark.parametrize("ruleset_sensor", ["sensor"], indirect=True)
def test_benign_workload_is_silent(ruleset_sensor, tmp_path):
    if not (shutil.which("gcc") and shutil.which("make") and shutil.which("git")
            and shutil.which("apt-get")):
        pytest.skip("gcc, make, git and apt-get are needed")
    (tmp_path / "hello.c").write_text(HELLO_C)
    (tmp_path / "Makefile").write_text(MAKEFILE)
    env = dict(os.environ, SENSOR_ROOT=str(ROOT), PYTHON=str(ROOT / ".venv" / "bin" / "python"),
               HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")
    work = subprocess.Popen(["bash", "-c", WORKLOAD], cwd=tmp_path, env=env,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out, _ = work.communicate(timeout=180)
    assert work.returncode == 0, out
    sid = work.pid

    # Control, in a session of its own, after the workload: its alert shows
    # the session id is there to filter on, and, alerts being printed in event
    # order, that every alert of the workload has been printed by now.
    control = shutil.copy(shutil.which("cat"), tmp_path / uid()[:15])
    pid, rc = run([control, "/etc/shadow"], start_new_session=True)
    assert rc == 0
    a = ruleset_sensor.wait_alert(lambda a: a["rule"] == "Read sensitive file untrusted"
                                  and fields(a).get("proc.pid") == pid, timeout=30)
    assert fields(a)["proc.sid"] == pid

    noisy = [a for a in ruleset_sensor.seen if fields(a).get("proc.sid") == sid]
    assert not noisy, "the benign workload raised alerts:\n" + "\n".join(
        f"{a['rule']}: {a['output']}" for a in noisy)
