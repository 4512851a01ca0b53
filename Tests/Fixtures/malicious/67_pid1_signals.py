# expect: ok
# Signals the sandbox's init (pid 1) with everything that would stop an ordinary process, then prints and exits 0: the run must end ok with its output, not as a sandbox failure.
# require: alive after signalling pid 1
import ctypes
import os
import signal
import struct
import time

from attempt import libc

for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT,
               signal.SIGALRM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(1, number)
    except OSError as error:
        print(f"kill(1, {number.name}): {error.strerror}")
# Every process it may signal: kill(-1) spares pid 1 and the caller, so here it finds none.
try:
    os.kill(-1, signal.SIGTERM)
except ProcessLookupError:
    print("kill(-1): no process to signal")
# The same signals by other calls: queued with a forged sender (si_pid 0, as if from outside), and through a pidfd.
info = ctypes.create_string_buffer(128)
struct.pack_into("iii", info, 0, signal.SIGTERM, 0, -1)  # si_signo, si_errno, si_code SI_QUEUE; si_pid stays 0
libc.syscall(ctypes.c_long(129), ctypes.c_long(1), ctypes.c_long(signal.SIGTERM), info)  # rt_sigqueueinfo
libc.syscall(ctypes.c_long(129), ctypes.c_long(1), ctypes.c_long(signal.SIGUSR1), info)
try:
    os.pidfd_open(1)
    print("ESCAPED: a pidfd of init")
except OSError as error:
    print(f"pidfd_open(1): {error.strerror}")
time.sleep(0.3)  # time for init to act on anything it received
print("alive after signalling pid 1")
