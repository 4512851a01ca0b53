# expect: ok
# Joins other namespaces with setns, using /proc/*/ns handles and a pidfd of pid 1.
# require: BLOCKED: setns
import ctypes
import errno
import os

from attempt import attempt, libc


CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUSER = 0x40000000, 0x00020000, 0x10000000
handles = []
for path, flag in (("/proc/self/ns/net", CLONE_NEWNET), ("/proc/self/ns/mnt", CLONE_NEWNS),
                   ("/proc/self/ns/user", CLONE_NEWUSER), ("/proc/1/ns/net", CLONE_NEWNET)):
    try:
        handles.append((path, os.open(path, os.O_RDONLY), flag))
    except OSError as error:
        print(f"note: cannot open {path}: {type(error).__name__}")
if not handles:
    attempt("setns(-1, 0)", 308, -1, 0)
for path, fd, flag in handles:
    attempt(f"setns({path}, 0)", 308, fd, 0)
    attempt(f"setns({path}, its type)", 308, fd, flag)
    os.close(fd)

pidfd, _ = attempt("pidfd_open(1)", 434, 1, 0)
if pidfd >= 0:
    attempt("setns(pidfd of pid 1)", 308, pidfd, CLONE_NEWNET)
    attempt("pidfd_getfd(pid 1, fd 0)", 438, pidfd, 0, 0)
    os.close(pidfd)
