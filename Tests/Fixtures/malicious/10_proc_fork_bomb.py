# expect: ok|error|timeout
# A fork bomb: every process keeps forking to exhaust the host's process table.
import os
import sys
import time

ATTEMPTS = 200
root = os.getpid()
children = 0
for attempt in range(ATTEMPTS):
    try:
        pid = os.fork()
    except OSError as error:
        if os.getpid() == root:
            print(f"BLOCKED: fork refused after {children} children "
                  f"({type(error).__name__}, errno {error.errno})", flush=True)
            break
        os._exit(0)
    if pid == 0:
        children = 0  # the child joins the bomb
        continue
    children += 1

if os.getpid() != root:
    time.sleep(1)  # hold the process slot for a while, silently
    os._exit(0)
if children >= ATTEMPTS:
    print(f"ESCAPED: {ATTEMPTS} forks from one process without reaching a process limit")
sys.exit(0)
