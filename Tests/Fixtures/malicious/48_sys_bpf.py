# expect: ok
# Creates eBPF maps and loads an eBPF program with the bpf syscall.
# require: BLOCKED: bpf(BPF_MAP_CREATE)
# require: BLOCKED: bpf(BPF_PROG_LOAD)
import ctypes
import errno
import os

from attempt import attempt, libc

import struct

BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_MAP_TYPE_ARRAY, BPF_PROG_TYPE_SOCKET_FILTER = 0, 5, 2, 1
map_attr = ctypes.create_string_buffer(struct.pack("<IIII", BPF_MAP_TYPE_ARRAY, 4, 4, 1), 128)
attempt("bpf(BPF_MAP_CREATE)", 321, BPF_MAP_CREATE, map_attr, 128)

# r0 = 0; exit
program = ctypes.create_string_buffer(struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0))
license = ctypes.create_string_buffer(b"GPL")
prog_attr = ctypes.create_string_buffer(
    struct.pack("<IIQQ", BPF_PROG_TYPE_SOCKET_FILTER, 2, ctypes.addressof(program), ctypes.addressof(license)), 128)
attempt("bpf(BPF_PROG_LOAD)", 321, BPF_PROG_LOAD, prog_attr, 128)
attempt("bpf(zeroed attr)", 321, BPF_MAP_CREATE, ctypes.create_string_buffer(128), 128)
