# expect: ok
# Tries to lift the run's limits: raising hard rlimits, lowering its nice value and writing the cgroup's limit files.
# require: BLOCKED: raise RLIMIT_CPU
# require: BLOCKED: raise RLIMIT_AS
# require: BLOCKED: raise RLIMIT_NPROC
import errno
import os
import resource

for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_STACK"):
    which = getattr(resource, name)
    soft, hard = resource.getrlimit(which)
    if hard == resource.RLIM_INFINITY:
        print(f"note: {name} hard limit is unlimited")
        continue
    try:
        resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(f"ESCAPED: raised {name} from {hard} to unlimited")
    except (OSError, ValueError) as error:
        print(f"BLOCKED: raise {name}: {type(error).__name__}")

try:
    os.setpriority(os.PRIO_PROCESS, 0, -20)
    print("ESCAPED: raised scheduling priority to nice -20")
except OSError as error:
    print(f"BLOCKED: nice -20: {errno.errorcode.get(error.errno, error.errno)}")

with open("/proc/self/cgroup") as file:
    print(f"cgroup: {file.read().strip()}")
for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cgroup.procs",
             "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    try:
        fd = os.open(path, os.O_WRONLY)
        os.close(fd)
        print(f"ESCAPED: {path} opened for writing")
    except OSError as error:
        print(f"BLOCKED: open {path}: {errno.errorcode.get(error.errno, error.errno)}")
