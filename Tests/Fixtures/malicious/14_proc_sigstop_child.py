# expect: ok
# A child stops itself with SIGSTOP while the parent exits, leaving a frozen process behind.
import os
import signal
import time

pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    while True:  # if ever continued
        time.sleep(3600)

_, status = os.waitpid(pid, os.WUNTRACED)
if os.WIFSTOPPED(status):
    print(f"child {pid} is stopped by signal {os.WSTOPSIG(status)}; the parent exits now")
else:
    print(f"child {pid} ended early with status {status}")
