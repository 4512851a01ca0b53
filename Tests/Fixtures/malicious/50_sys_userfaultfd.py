# expect: ok
# Creates a userfaultfd, the classic helper for stalling the kernel mid-copy to win races.
# require: BLOCKED: userfaultfd(O_CLOEXEC|O_NONBLOCK)
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


attempt("userfaultfd(O_CLOEXEC|O_NONBLOCK)", 323, os.O_CLOEXEC | os.O_NONBLOCK)
attempt("userfaultfd(UFFD_USER_MODE_ONLY)", 323, 1)
try:
    fd = os.open("/dev/userfaultfd", os.O_RDWR)
    os.close(fd)
    print("ESCAPED: opened /dev/userfaultfd")
except OSError as error:
    print(f"BLOCKED: open /dev/userfaultfd: {type(error).__name__}")
