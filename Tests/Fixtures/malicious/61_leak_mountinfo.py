# expect: ok
# Reads /proc/self/mountinfo for host paths (homes, the secret's directory) and for writable mounts other than the workdir; the workdir and /dev/shm must be noexec, nosuid, nodev.
# require: BLOCKED: no host home directory mounted
# require: BLOCKED: /dev/shm is noexec, nosuid and nodev
import json
import os
import sys

host = json.load(open("host.json"))
secret_dir = os.path.dirname(host["hostSecretPath"])
workdir = os.getcwd()
# The interpreter's own prefix is mounted read-only and may live under /root (pyenv).
prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}

with open("/proc/self/mountinfo") as file:
    lines = file.read().splitlines()
leaked = False
for line in lines:
    fields = line.split()
    source_root, mount_point, options = fields[3], fields[4], fields[5].split(",")
    print(f"mount {mount_point} ({fields[5]})")
    for path in (mount_point, source_root):
        interpreter = any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)
        if path.startswith(secret_dir) or (
                not interpreter and (path in ("/root", "/home") or path.startswith(("/root/", "/home/")))):
            print(f"ESCAPED: host path {path} is mounted")
            leaked = True
    writable_ok = mount_point in (workdir, "/proc") or mount_point.startswith("/dev/")
    if "rw" in options and not writable_ok:
        print(f"ESCAPED: {mount_point} is mounted read-write")
    if mount_point in (workdir, "/dev/shm"):
        lax = {"noexec", "nosuid", "nodev"} - set(options)
        if lax:
            print(f"ESCAPED: the writable {mount_point} lacks {sorted(lax)}")
        elif mount_point == "/dev/shm":
            print("BLOCKED: /dev/shm is noexec, nosuid and nodev")
    if mount_point.endswith(("docker.sock", "containerd.sock")):
        print(f"ESCAPED: container runtime socket {mount_point} is mounted")
if not leaked:
    print("BLOCKED: no host home directory mounted")
