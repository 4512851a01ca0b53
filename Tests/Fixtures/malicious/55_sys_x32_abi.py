# expect: killed
# Calls getpid through the x32 ABI (syscall number 0x40000000 | 39), which a filter written for x86_64 might not match.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
print("calling getpid through the x32 syscall table", flush=True)
libc.syscall(ctypes.c_long(0x40000000 | 39))
