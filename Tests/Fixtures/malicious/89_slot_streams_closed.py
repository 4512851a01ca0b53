# expect: timeout
# timeout-ms: 1000
# require: CLOSING: streams
# A program closes stdin, stdout and stderr, then lingers: the end of its streams is not the end of its run, and the wall-clock limit still ends it (its slot is not held past its limit).
import os
import time

print("CLOSING: streams", flush=True)
for fd in (0, 1, 2):
    os.close(fd)
while True:
    time.sleep(1)
