# expect: ok
# Checks that the program runs as uid 65534 with no capabilities, no_new_privs and a seccomp filter, and tries to become root.
# require: uid=65534
# require: gid=65534
# require: CapEff=0000000000000000
# require: CapPrm=0000000000000000
# require: NoNewPrivs=1
# require: Seccomp=2
# require: BLOCKED: setuid(0)
import errno
import os

print(f"uid={os.getuid()}")
print(f"gid={os.getgid()}")
print(f"euid={os.geteuid()} egid={os.getegid()} groups={os.getgroups()}")
if 0 in (os.getuid(), os.geteuid(), os.getgid(), os.getegid()):
    print("ESCAPED: running with root ids")

status = {}
with open("/proc/self/status") as file:
    for line in file:
        key, _, value = line.partition(":")
        status[key] = value.strip()
for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
    print(f"{key}={status.get(key)}")
for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
    if int(status.get(key, "f"), 16) != 0:
        print(f"ESCAPED: {key} is {status[key]}")
if status.get("NoNewPrivs") != "1":
    print("ESCAPED: no_new_privs is not set")
if status.get("Seccomp") != "2":
    print("ESCAPED: no seccomp filter")

for label, call in (("setuid(0)", lambda: os.setuid(0)), ("setgid(0)", lambda: os.setgid(0)),
                    ("seteuid(0)", lambda: os.seteuid(0)), ("setgroups([0])", lambda: os.setgroups([0]))):
    try:
        call()
        print(f"ESCAPED: {label} succeeded")
    except OSError as error:
        print(f"BLOCKED: {label}: {errno.errorcode.get(error.errno, error.errno)}")
