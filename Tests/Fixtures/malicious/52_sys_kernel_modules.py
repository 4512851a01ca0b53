# expect: ok
# Loads and unloads kernel modules with init_module, finit_module and delete_module.
# require: BLOCKED: init_module
# require: BLOCKED: finit_module
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


image = ctypes.create_string_buffer(b"\x7fELF" + b"\0" * 60)  # not a real module
attempt("init_module", 175, image, 64, b"")
fd = os.open("/dev/null", os.O_RDONLY)
attempt("finit_module", 313, fd, b"", 0)
os.close(fd)
attempt("delete_module", 176, b"pysandbox_nonexistent_module", os.O_NONBLOCK)
