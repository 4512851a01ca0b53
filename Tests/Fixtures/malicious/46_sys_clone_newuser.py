# expect: ok
# Creates a child in a new user namespace (and net, pid, mount namespaces) with the raw clone syscall.
# require: BLOCKED: clone(CLONE_NEWUSER|SIGCHLD)
# require: ok: plain clone(SIGCHLD) works
import ctypes
import errno
import os

from attempt import attempt, libc, report

import signal

namespaces = {"CLONE_NEWUSER": 0x10000000, "CLONE_NEWNS": 0x00020000, "CLONE_NEWNET": 0x40000000,
              "CLONE_NEWPID": 0x20000000, "CLONE_NEWUSER|CLONE_NEWNS": 0x10020000}


def clone(flags):
    ctypes.set_errno(0)
    # x86_64 clone(flags, newsp=0, parent_tid, child_tid, tls): a fork-like copy.
    pid = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags | signal.SIGCHLD), ctypes.c_long(0),
                       ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if pid == 0:
        os._exit(0)  # the child leaves at once
    return pid, ctypes.get_errno()


for name, value in namespaces.items():
    pid, err = clone(value)
    label = f"clone({name}|SIGCHLD)"
    if pid > 0:
        os.waitpid(pid, 0)
    report(label, pid, err)

pid, err = clone(0)
if pid > 0:
    os.waitpid(pid, 0)
    print("ok: plain clone(SIGCHLD) works (control)")
else:
    print(f"plain clone failed: {errno.errorcode.get(err, err)}")
