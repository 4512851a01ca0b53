# expect: ok
# Opens performance counters with perf_event_open, a source of kernel bugs and side channels.
# require: BLOCKED: perf_event_open(zeroed attr)
import ctypes
import errno
import os

from attempt import attempt, libc

import struct

zeroed = ctypes.create_string_buffer(128)
attempt("perf_event_open(zeroed attr)", 298, zeroed, 0, -1, -1, 0)
# PERF_TYPE_SOFTWARE, size 128, PERF_COUNT_SW_CPU_CLOCK, for this process on any CPU
software = ctypes.create_string_buffer(struct.pack("<IIQ", 1, 128, 0), 128)
attempt("perf_event_open(software cpu clock)", 298, software, 0, -1, -1, 0)
attempt("perf_event_open(pid 1)", 298, software, 1, -1, -1, 0)
