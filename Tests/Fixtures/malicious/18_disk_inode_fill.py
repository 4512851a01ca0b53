# expect: ok
# Creates empty files until the working directory runs out of inodes.
# require: BLOCKED: file creation refused after
import errno
import os

LIMIT = 50000
os.mkdir("inodes")
created = 0
try:
    for index in range(LIMIT):
        os.close(os.open(f"inodes/{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        created += 1
except OSError as error:
    print(f"BLOCKED: file creation refused after {created} files ({errno.errorcode.get(error.errno, error.errno)})")
else:
    print(f"ESCAPED: created {LIMIT} files without running out of inodes")
for index in range(created):
    os.unlink(f"inodes/{index}")
os.rmdir("inodes")
