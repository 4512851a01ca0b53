# expect: ok
# Creates a userfaultfd, the classic helper for stalling the kernel mid-copy to win races.
# require: BLOCKED: userfaultfd(O_CLOEXEC|O_NONBLOCK)
import ctypes
import errno
import os

from attempt import attempt, libc


attempt("userfaultfd(O_CLOEXEC|O_NONBLOCK)", 323, os.O_CLOEXEC | os.O_NONBLOCK)
attempt("userfaultfd(UFFD_USER_MODE_ONLY)", 323, 1)
try:
    fd = os.open("/dev/userfaultfd", os.O_RDWR)
    os.close(fd)
    print("ESCAPED: opened /dev/userfaultfd")
except OSError as error:
    print(f"BLOCKED: open /dev/userfaultfd: {type(error).__name__}")
