# expect: ok
# A child starts a new session, ignores SIGHUP and SIGTERM and sleeps forever holding the output pipes, hoping to outlive the run.
import os
import signal
import time

ready_read, ready_write = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(ready_read)
    os.setsid()
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    os.write(ready_write, b"1")
    os.close(ready_write)
    while True:
        time.sleep(3600)

os.close(ready_write)
os.read(ready_read, 1)
print(f"child {pid} is in its own session (sid {os.getsid(pid)}); the parent exits now")
