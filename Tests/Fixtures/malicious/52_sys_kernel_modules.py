# expect: ok
# Loads and unloads kernel modules with init_module, finit_module and delete_module.
# require: BLOCKED: init_module
# require: BLOCKED: finit_module
import ctypes
import errno
import os

from attempt import attempt, libc


image = ctypes.create_string_buffer(b"\x7fELF" + b"\0" * 60)  # not a real module
attempt("init_module", 175, image, 64, b"")
fd = os.open("/dev/null", os.O_RDONLY)
attempt("finit_module", 313, fd, b"", 0)
os.close(fd)
attempt("delete_module", 176, b"pysandbox_nonexistent_module", os.O_NONBLOCK)
