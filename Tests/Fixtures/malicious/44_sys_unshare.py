# expect: ok
# Creates new namespaces with unshare (user, mount, net, pid, uts, ipc, cgroup, time) to gain capabilities inside them.
# require: BLOCKED: unshare(CLONE_NEWUSER)
# require: BLOCKED: unshare(CLONE_NEWNS)
import ctypes
import errno
import os

from attempt import attempt, libc


flags = {"CLONE_NEWUSER": 0x10000000, "CLONE_NEWNS": 0x00020000, "CLONE_NEWNET": 0x40000000,
         "CLONE_NEWPID": 0x20000000, "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
         "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWTIME": 0x00000080}
for name, value in flags.items():
    attempt(f"unshare({name})", 272, value)
attempt("unshare(CLONE_NEWUSER|CLONE_NEWNS)", 272, flags["CLONE_NEWUSER"] | flags["CLONE_NEWNS"])
attempt("unshare(CLONE_FILES)", 272, 0x400)
