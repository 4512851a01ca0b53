# expect: ok
# Sets up an io_uring, a large kernel attack surface that also bypasses per-syscall filtering.
# require: BLOCKED: io_uring_setup
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


params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
result, _ = attempt("io_uring_setup", 425, 8, params)
if result >= 0:
    os.close(result)
attempt("io_uring_enter", 426, 0, 1, 0, 0, None, 0)
attempt("io_uring_register", 427, 0, 0, None, 0)
