# expect: ok
# Reads and writes another process's memory with process_vm_readv/writev (pid 1, the parent, itself).
# require: BLOCKED: process_vm_readv(pid 1)
# require: BLOCKED: process_vm_writev(pid 1)
import ctypes
import errno
import os

from attempt import attempt, libc



class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


buffer = ctypes.create_string_buffer(64)
source = ctypes.create_string_buffer(b"a" * 64)
local = IoVec(ctypes.addressof(buffer), 64)
remote = IoVec(ctypes.addressof(source), 64)  # an address that is mapped in this process
nowhere = IoVec(0, 64)  # writes aim at address 0 so nothing could be damaged

targets = [("pid 1", 1), ("self", os.getpid())]
if os.getppid() not in (0, 1):
    targets.append(("parent", os.getppid()))
for name, pid in targets:
    attempt(f"process_vm_readv({name})", 310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
attempt("process_vm_writev(pid 1)", 311, 1, ctypes.byref(local), 1, ctypes.byref(nowhere), 1, 0)
