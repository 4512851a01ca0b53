# expect: ok
# Asks the kernel for the host's uptime, load, memory and process count (sysinfo), and what glibc builds on it.
# require: BLOCKED: sysinfo
import os

from attempt import attempt, libc
import ctypes

buffer = ctypes.create_string_buffer(128)
attempt("sysinfo", 99, buffer)
print("physical pages as glibc sees them:", os.sysconf("SC_PHYS_PAGES"))
