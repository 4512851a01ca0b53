# expect: timeout
# timeout-ms: 1000
# A busy loop that ignores SIGXCPU, SIGTERM and friends tries to outlive the CPU limit and polite termination.
import signal

for name in ("SIGXCPU", "SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGVTALRM", "SIGPROF"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
    print(f"ignoring {name}")
print("spinning forever", flush=True)
counter = 0
while True:
    counter += 1
