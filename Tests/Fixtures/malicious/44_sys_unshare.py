# expect: ok
# Creates new namespaces with unshare (user, mount, net, pid, uts, ipc, cgroup, time) to gain capabilities inside them.
# require: BLOCKED: unshare(CLONE_NEWUSER)
# require: BLOCKED: unshare(CLONE_NEWNS)
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def attempt(label, number, *args):
    """Raw syscall: BLOCKED on EPERM/ENOSYS, ESCAPED on success."""
    argv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *argv)
    err = ctypes.get_errno()
    if result >= 0:
        print(f"ESCAPED: {label} returned {result}")
    elif err in (errno.EPERM, errno.ENOSYS):
        print(f"BLOCKED: {label}: {errno.errorcode[err]}")
    else:
        print(f"UNFILTERED: {label} reached the kernel: {errno.errorcode.get(err, err)}")
    return result, err


flags = {"CLONE_NEWUSER": 0x10000000, "CLONE_NEWNS": 0x00020000, "CLONE_NEWNET": 0x40000000,
         "CLONE_NEWPID": 0x20000000, "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
         "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWTIME": 0x00000080}
for name, value in flags.items():
    attempt(f"unshare({name})", 272, value)
attempt("unshare(CLONE_NEWUSER|CLONE_NEWNS)", 272, flags["CLONE_NEWUSER"] | flags["CLONE_NEWNS"])
attempt("unshare(CLONE_FILES)", 272, 0x400)
