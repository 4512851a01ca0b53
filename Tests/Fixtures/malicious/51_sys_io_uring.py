# expect: ok
# Sets up an io_uring, a large kernel attack surface that also bypasses per-syscall filtering.
# require: BLOCKED: io_uring_setup
import ctypes
import errno
import os

from attempt import attempt, libc


params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
result, _ = attempt("io_uring_setup", 425, 8, params)
if result >= 0:
    os.close(result)
attempt("io_uring_enter", 426, 0, 1, 0, 0, None, 0)
attempt("io_uring_register", 427, 0, 0, None, 0)
