# expect: ok
# Looks for other processes through /proc, kill(pid, 0) probing and kernel-wide /proc files.
# require: BLOCKED: only this run's processes are visible
import errno
import os

from own_processes import own_processes

me = os.getpid()
pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
print(f"pid {me}; /proc shows {pids}")
# This run's own: pid 1, itself, and its children (a session's snapshot of itself).
own = {1} | own_processes(pids)
strangers = [pid for pid in pids if pid not in own]
if strangers:
    print(f"ESCAPED: /proc shows other processes {strangers}")
else:
    print("BLOCKED: only this run's processes are visible")
if me > 1000:
    print(f"ESCAPED: pid {me} looks like a host PID namespace")

probed = []
for pid in range(1, 4097):
    if pid in own:
        continue
    try:
        os.kill(pid, 0)
        probed.append(pid)
    except ProcessLookupError:
        pass
    except PermissionError:
        probed.append(pid)
if probed:
    print(f"ESCAPED: kill(pid, 0) finds {len(probed)} other processes, e.g. {probed[:5]}")
else:
    print("BLOCKED: kill(pid, 0) finds no other process")

try:
    with open("/proc/1/cmdline", "rb") as file:
        program = file.read(200).split(b"\0")[0][:60]
    print(f"note: /proc/1/cmdline readable: {program!r}")
except OSError as error:
    print(f"BLOCKED: /proc/1/cmdline: {type(error).__name__}")

for path, mode in (("/proc/kcore", os.O_RDONLY), ("/proc/kallsyms", os.O_RDONLY),
                   ("/proc/sysrq-trigger", os.O_WRONLY), ("/proc/sys/kernel/core_pattern", os.O_WRONLY),
                   ("/proc/sys/kernel/modprobe", os.O_WRONLY)):
    try:
        fd = os.open(path, mode)
    except OSError as error:
        print(f"BLOCKED: open {path}: {errno.errorcode.get(error.errno, error.errno)}")
        continue
    try:
        if mode == os.O_WRONLY:
            print(f"ESCAPED: {path} opened for writing")
        elif path == "/proc/kcore" or any(line.split()[0].strip(b"0") for line in os.read(fd, 4096).splitlines()[:20]):
            print(f"ESCAPED: {path} readable with real contents")
        else:
            print(f"note: {path} readable but zeroed")
    finally:
        os.close(fd)
