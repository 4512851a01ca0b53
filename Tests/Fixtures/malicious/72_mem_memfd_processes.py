# expect: memoryLimit|error|killed
# Four processes each hold 200 MiB in memfd files (written, never mapped: no address-space limit sees them) under a 128 MiB limit.
import os
import time

from children import exit_with

children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        files = []
        for _ in range(200):
            fd = os.memfd_create("hold")
            os.write(fd, b"x" * (1 << 20))
            files.append(fd)
        print("ESCAPED: holds 200 MiB in memfd files")
        time.sleep(1.5)
        os._exit(0)
    children.append(pid)
exit_with(children, "the children held their memfd files")
