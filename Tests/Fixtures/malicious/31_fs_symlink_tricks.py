# expect: ok
# Uses symlinks, /proc root links and dot-dot walks to reach host files outside the sandbox root.
# require: BLOCKED: read x/etc/shadow
import errno
import json
import os
import sys

host = json.load(open("host.json"))


def why(error):
    return errno.errorcode.get(error.errno, error.errno)


def try_read(path, label):
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        print(f"BLOCKED: read {label}: {why(error)}")
        return
    print(f"ESCAPED: read {label}")


os.symlink("/proc/1/root", "x")
try_read("x/etc/shadow", "x/etc/shadow")
for name in ("root", "home"):
    if os.path.lexists(f"x/{name}"):
        print(f"ESCAPED: x/{name} exists through /proc/1/root")
    else:
        print(f"BLOCKED: no x/{name}")

os.symlink(host["hostSecretPath"], "secret-link")
try_read("secret-link", "symlink to the host secret")

try_read("/proc/self/root/../../../etc/shadow", "/proc/self/root/../../../etc/shadow")
try_read("/proc/self/cwd/../../../../etc/shadow", "/proc/self/cwd/../../../../etc/shadow")
try_read("/proc/self/root" + host["hostSecretPath"], "host secret via /proc/self/root")
try_read("/proc/1/cwd/../../etc/shadow", "/proc/1/cwd/../../etc/shadow")

try:
    entries = os.listdir("/proc/self/root/..")
    # The interpreter's prefix (e.g. a pyenv build under /root) is mounted on purpose.
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    expected = {prefix.split("/")[1] for prefix in prefixes}
    leaked = ({"root", "home", "boot", "var", "srv", "opt"} & set(entries)) - expected
    # The sandbox's own /opt: the folder a run's package set is mounted on, and pip's stand-in.
    if "opt" in leaked and os.listdir("/opt") == ["pysandbox"] and sorted(os.listdir("/opt/pysandbox")) == ["packages", "shims"]:
        leaked.discard("opt")
    if leaked:
        print(f"ESCAPED: /proc/self/root/.. shows host directories {sorted(leaked)}")
    else:
        print("BLOCKED: /proc/self/root/.. is the sandbox root")
except OSError as error:
    print(f"BLOCKED: list /proc/self/root/..: {why(error)}")

tmp_fd = os.open(".", os.O_RDONLY)
try:
    fd = os.open("../../../../../etc/shadow", os.O_RDONLY, dir_fd=tmp_fd)
    os.close(fd)
    print("ESCAPED: read ../../etc/shadow relative to the workdir")
except OSError as error:
    print(f"BLOCKED: openat ../../etc/shadow: {why(error)}")
os.close(tmp_fd)

try:
    os.link("/etc/passwd", "passwd-hardlink")
    print("NOTE: hard link to /etc/passwd created (same filesystem?)")
except OSError as error:
    print(f"BLOCKED: hard link to /etc/passwd: {why(error)}")
