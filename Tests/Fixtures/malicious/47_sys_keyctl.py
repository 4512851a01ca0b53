# expect: ok
# Uses the kernel keyring syscalls (add_key, keyctl, request_key), a subsystem with a record of exploitable bugs.
# require: BLOCKED: add_key
# require: BLOCKED: keyctl(KEYCTL_GET_KEYRING_ID)
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


KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -2, -3, -4
payload = b"not-a-secret"
attempt("add_key", 248, b"user", b"pysandbox-test", payload, len(payload), KEY_SPEC_PROCESS_KEYRING)
attempt("keyctl(KEYCTL_GET_KEYRING_ID)", 250, 0, KEY_SPEC_SESSION_KEYRING, 0)
attempt("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", 250, 1, None)
attempt("keyctl(KEYCTL_DESCRIBE, user keyring)", 250, 6, KEY_SPEC_USER_KEYRING, ctypes.create_string_buffer(256), 256)
attempt("request_key", 249, b"user", b"pysandbox-test", None, 0)
