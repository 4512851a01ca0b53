# expect: ok
# Writes files into the working directory until the disk is full.
# require: BLOCKED: disk full after
import errno
import os

CHUNK = b"\xaa" * (1 << 20)
PER_FILE = 8  # MiB per file, below the file size limit, so the disk fills first
MAX_FILES = 400  # 3.2 GiB in all
written = 0
names = []
try:
    for index in range(MAX_FILES):
        name = f"fill-{index:04d}.bin"
        names.append(name)
        with open(name, "wb") as file:
            for _ in range(PER_FILE):
                file.write(CHUNK)
                file.flush()
                written += 1
except OSError as error:
    print(f"BLOCKED: disk full after {written} MiB ({errno.errorcode.get(error.errno, error.errno)})")
else:
    print(f"ESCAPED: wrote {written} MiB without running out of space")
for name in names:
    try:
        os.unlink(name)
    except OSError:
        pass
if written > 64:
    print(f"ESCAPED: the 64 MiB working directory took {written} MiB")
