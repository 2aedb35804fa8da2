#!/bin/sh
# Podman for the container tests (root, Debian 12; podman, runc and busybox-static installed).
#
#   tests/podman/setup.sh          both steps below (what `make setup` runs)
#   tests/podman/setup.sh conf     /etc/containers/containers.conf holds the settings podman
#                                  needs on these machines (cgroup v1 controllers, no systemd,
#                                  no ulimit raising): added where missing, the file's other
#                                  settings kept
#   tests/podman/setup.sh image    the image $SENSOR_TEST_IMAGE (default
#                                  localhost/sensor-busybox:1.0) exists: a busybox rootfs
#                                  (Debian's static busybox, applets linked where busybox
#                                  installs them) imported with `podman import` (no registry)
#
# Idempotent: nothing is written when everything is in place already.
set -eu

IMAGE="${SENSOR_TEST_IMAGE:-localhost/sensor-busybox:1.0}"
CONF="${CONTAINERS_CONF:-/etc/containers/containers.conf}"   # podman reads $CONTAINERS_CONF too
BUSYBOX="${BUSYBOX:-/bin/busybox}"

conf() {
    mkdir -p "$(dirname "$CONF")"
    [ -e "$CONF" ] || : > "$CONF"
    # A key already set in its section keeps its line unless its value differs; a missing
    # key goes right under its section's header; a missing section is appended.
    python3 - "$CONF" <<'PY'
import re, sys
path = sys.argv[1]
want = {"containers": {"default_ulimits": "[]"},
        "engine": {"runtime": '"runc"', "cgroup_manager": '"cgroupfs"'}}
lines = open(path).read().splitlines()
section, header_at, seen = None, {}, {}
for i, line in enumerate(lines):
    m = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
    if m:
        section = m.group(1).strip()
        header_at.setdefault(section, i)
        continue
    m = re.match(r"\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*(#.*)?$", line)
    if m and section in want and m.group(1) in want[section]:
        seen[(section, m.group(1))] = (i, m.group(2))
changed = False
inserts = {}
for sec, keys in want.items():
    for key, value in keys.items():
        got = seen.get((sec, key))
        if got is None:
            if sec in header_at:
                inserts.setdefault(header_at[sec], []).append(f"{key} = {value}")
                changed = True
        elif got[1] != value:
            lines[got[0]] = f"{key} = {value}"
            changed = True
out = []
for i, line in enumerate(lines):
    out.append(line)
    out.extend(inserts.get(i, []))
for sec, keys in want.items():
    if sec not in header_at:
        if out and out[-1].strip():
            out.append("")
        out.append(f"[{sec}]")
        out.extend(f"{k} = {v}" for k, v in keys.items())
        changed = True
if changed:
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    print(f"{path}: podman settings written")
PY
}

image() {
    if podman image exists "$IMAGE"; then
        return 0
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    root="$tmp/rootfs"
    mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" \
             "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/var/tmp"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    cp "$BUSYBOX" "$root/bin/busybox"
    "$BUSYBOX" --list-full | while read -r applet; do
        case "$applet" in
            */*) [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet" ;;
        esac
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    tar -C "$root" -cf "$tmp/rootfs.tar" .
    podman import -q --change 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" "$IMAGE" >/dev/null
    echo "podman: imported $IMAGE"
}

case "${1:-all}" in
    conf) conf ;;
    image) image ;;
    all) conf; image ;;
    *) echo "usage: $0 [conf|image|all]" >&2; exit 2 ;;
esac
