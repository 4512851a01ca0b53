# expect: ok
# Creates a child in new user and mount namespaces with clone3, whose flags live in memory a seccomp filter cannot inspect.
# require: BLOCKED: clone3(CLONE_NEWUSER|CLONE_NEWNS): ENOSYS
import ctypes
import errno
import os

from attempt import attempt, libc, report

import signal


class CloneArgs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size",
        "tls", "set_tid", "set_tid_size", "cgroup")]


CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000


def clone3(label, flags):
    args = CloneArgs(flags=flags, exit_signal=signal.SIGCHLD)
    ctypes.set_errno(0)
    pid = libc.syscall(ctypes.c_long(435), ctypes.byref(args), ctypes.c_long(ctypes.sizeof(args)))
    if pid == 0:
        os._exit(0)  # the child leaves at once
    err = ctypes.get_errno()
    if pid > 0:
        os.waitpid(pid, 0)
    report(label, pid, err)


clone3("clone3(CLONE_NEWUSER|CLONE_NEWNS)", CLONE_NEWUSER | CLONE_NEWNS)
clone3("clone3(CLONE_NEWNET)", CLONE_NEWNET)
