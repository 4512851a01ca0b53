# expect: ok
# Uses ptrace to trace itself, attach to pid 1 and the parent, and seize its own child.
# require: BLOCKED: ptrace(PTRACE_TRACEME)
# require: BLOCKED: ptrace(PTRACE_ATTACH, 1)
import ctypes
import errno
import os

from attempt import attempt, libc

import signal
import time

PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_PEEKDATA = 0, 16, 0x4206, 2
attempt("ptrace(PTRACE_TRACEME)", 101, PTRACE_TRACEME, 0, 0, 0)
attempt("ptrace(PTRACE_ATTACH, 1)", 101, PTRACE_ATTACH, 1, 0, 0)
attempt("ptrace(PTRACE_SEIZE, 1)", 101, PTRACE_SEIZE, 1, 0, 0)
if os.getppid() not in (0, 1):
    attempt("ptrace(PTRACE_ATTACH, parent)", 101, PTRACE_ATTACH, os.getppid(), 0, 0)

child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
attempt("ptrace(PTRACE_ATTACH, own child)", 101, PTRACE_ATTACH, child, 0, 0)
attempt("ptrace(PTRACE_PEEKDATA, own child)", 101, PTRACE_PEEKDATA, child, 0x400000, 0)
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)

for path in ("/proc/1/mem", f"/proc/{os.getppid()}/mem"):
    try:
        with open(path, "rb") as file:
            file.read(1)
        print(f"ESCAPED: opened {path}")
    except OSError as error:
        print(f"BLOCKED: open {path}: {type(error).__name__}")
