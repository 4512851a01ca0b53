# expect: timeout
# timeout-ms: 1000
# Ignores and blocks every catchable signal, then sleeps forever hoping nothing can end it.
# require: BLOCKED: cannot ignore SIGKILL
# require: BLOCKED: cannot ignore SIGSTOP
import signal
import time

refused = set()
for number in range(1, signal.NSIG):
    try:
        signal.signal(number, signal.SIG_IGN)
    except (OSError, ValueError, RuntimeError):
        refused.add(number)
signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())

for sig in (signal.SIGKILL, signal.SIGSTOP):
    if sig in refused:
        print(f"BLOCKED: cannot ignore {sig.name}")
    else:
        print(f"ESCAPED: {sig.name} is ignored")
print(f"ignoring {signal.NSIG - 1 - len(refused)} signals; sleeping forever", flush=True)
while True:
    time.sleep(3600)
