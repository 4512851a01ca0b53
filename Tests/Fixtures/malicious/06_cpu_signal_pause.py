# expect: timeout
# timeout-ms: 1000
# Waits forever in signal.pause() for a signal that never comes.
import signal

print("pausing forever", flush=True)
while True:
    signal.pause()
