"""Shared by the kernel-surface fixtures; the test places it beside main.py."""
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def attempt(label, number, *args):
    """Raw syscall: BLOCKED on EPERM/ENOSYS, ESCAPED on success."""
    argv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *argv)
    err = ctypes.get_errno()
    report(label, result, err)
    return result, err


def report(label, result, err):
    """A syscall's outcome: ESCAPED on success, BLOCKED on the filter's EPERM/ENOSYS."""
    if result >= 0:
        print(f"ESCAPED: {label} returned {result}")
    elif err in (errno.EPERM, errno.ENOSYS):
        print(f"BLOCKED: {label}: {errno.errorcode[err]}")
    else:
        print(f"UNFILTERED: {label} reached the kernel: {errno.errorcode.get(err, err)}")
