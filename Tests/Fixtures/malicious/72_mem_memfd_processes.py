# expect: memoryLimit|error|killed
# Four processes each hold 200 MiB in memfd files (written, never mapped: no address-space limit sees them) under a 128 MiB limit.
import os
import time

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
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
print("children ended with", codes)
raise SystemExit(0 if all(code == 0 for code in codes) else 1)
