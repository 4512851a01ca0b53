# expect: timeout
# timeout-ms: 1000
# Sleeps forever without using CPU so that only the wall-clock limit can end the run.
import time

print("sleeping forever", flush=True)
while True:
    time.sleep(3600)
