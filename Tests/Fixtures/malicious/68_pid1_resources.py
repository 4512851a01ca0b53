# expect: ok
# Reaches for pid 1 (init) through its limits and scheduling: prlimit (also with garbage in the upper 32 bits of the pid, which the kernel ignores), setpriority by process, group and user, sched_setaffinity. Each must fail.
# require: BLOCKED: prlimit(1) CPU
# require: BLOCKED: prlimit64 with pid 0x100000001
# require: BLOCKED: setpriority(PRIO_USER)
# require: done
import ctypes
import os
import resource

from attempt import attempt


def expect_denied(label, action):
    try:
        action()
        print(f"ESCAPED: {label}")
    except OSError as error:
        print(f"BLOCKED: {label}: {error.strerror}")


expect_denied("prlimit(1) CPU", lambda: resource.prlimit(1, resource.RLIMIT_CPU, (1, 1)))
expect_denied("prlimit(1) NOFILE", lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3)))
expect_denied("prlimit(1) read", lambda: resource.prlimit(1, resource.RLIMIT_AS))
expect_denied("setpriority(PRIO_PROCESS, 1)", lambda: os.setpriority(os.PRIO_PROCESS, 1, 19))
expect_denied("setpriority(PRIO_PGRP, 1)", lambda: os.setpriority(os.PRIO_PGRP, 1, 19))
expect_denied("setpriority(PRIO_USER)", lambda: os.setpriority(os.PRIO_USER, 0, 19))
expect_denied("sched_setaffinity(1)", lambda: os.sched_setaffinity(1, {0}))
limit = (ctypes.c_uint64 * 2)(1, 1)
attempt("prlimit64 with pid 0x100000001", 302, 0x100000001, resource.RLIMIT_CPU, ctypes.byref(limit), 0)
attempt("setpriority with who 0x100000001", 141, os.PRIO_PROCESS, 0x100000001, 19)
# The program's own process stays its own to change.
os.setpriority(os.PRIO_PROCESS, 0, 5)
resource.prlimit(0, resource.RLIMIT_NOFILE, (128, 128))
resource.prlimit(os.getpid(), resource.RLIMIT_NOFILE, (100, 128))
print("done")
