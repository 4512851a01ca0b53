# expect: ok
# cpu-at-least: 1300
# Hides CPU time: SIGCHLD ignored, so the kernel reaps three forked children that each burn 0.5 s of CPU and nobody waits for them. The run's cpuMs must still count them.
# require: children done
import os
import signal
import time

try:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    reaped_unseen = True
except OSError as error:
    print(f"SIGCHLD stays: {error.strerror}")
    reaped_unseen = False
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        end = time.process_time() + 0.5
        while time.process_time() < end:
            pass
        os._exit(0)
    children.append(pid)
for pid in children:
    if reaped_unseen:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
    else:
        os.waitpid(pid, 0)
print("children done")
