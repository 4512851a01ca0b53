# expect: memoryLimit|killed|error
# Four processes each touch 100 MiB of ordinary memory under a 128 MiB limit for the run: each fits its own address-space limit, together they are three times the run's.
import os
import time

from children import exit_with

children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(100 << 20)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        time.sleep(1.5)
        os._exit(0)
    children.append(pid)
exit_with(children, "four processes held 400 MiB under a 128 MiB limit")
