# expect: ok
# Signals and renices its own process group and session, after ignoring those signals itself: nothing outside the sandbox (the host-side launcher) may share them.
# require: own session and process group
import os
import signal
import time

# 0 means the session or group leader is outside this PID namespace.
if os.getsid(0) == 0 or os.getpgid(0) == 0:
    print(f"ESCAPED: shares a session or process group with a process outside the sandbox ({os.getsid(0)}, {os.getpgid(0)})")
else:
    print("own session and process group")
for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGCONT):
    signal.signal(number, signal.SIG_IGN)
    os.kill(0, number)
    os.killpg(os.getpgid(0), number)
os.setpriority(os.PRIO_PGRP, 0, 19)
time.sleep(0.3)
print("still running")
