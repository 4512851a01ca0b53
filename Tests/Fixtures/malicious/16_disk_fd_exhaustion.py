# expect: ok
# Opens /dev/null until the descriptor table is full, then tries to raise the descriptor limit.
# require: BLOCKED: open refused after
import errno
import os
import resource

LIMIT = 100000
fds = []
try:
    for _ in range(LIMIT):
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as error:
    print(f"BLOCKED: open refused after {len(fds)} descriptors ({errno.errorcode.get(error.errno, error.errno)})")
else:
    print(f"ESCAPED: opened {LIMIT} descriptors")
finally:
    for fd in fds:
        os.close(fd)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard * 4, hard * 4))
    print(f"ESCAPED: raised the descriptor hard limit from {hard} to {hard * 4}")
except (OSError, ValueError) as error:
    print(f"BLOCKED: raising RLIMIT_NOFILE above {hard}: {type(error).__name__}")
