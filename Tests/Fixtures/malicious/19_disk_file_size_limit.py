# expect: ok
# Writes a 20 MiB file, then tries sparse tricks (seek, truncate, fallocate) to pass the 16 MiB file size limit.
# require: BLOCKED: write stopped at
import errno
import os

LIMIT = 16 << 20
CHUNK = b"\x55" * (1 << 20)


def name_of(error):
    return errno.errorcode.get(error.errno, error.errno)


fd = os.open("big.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
total = 0
try:
    while total < 20 << 20:
        total += os.write(fd, CHUNK)
    print(f"ESCAPED: wrote a {total >> 20} MiB file")
except OSError as error:
    print(f"BLOCKED: write stopped at {total >> 20} MiB ({name_of(error)})")
os.close(fd)

fd = os.open("sparse.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    os.lseek(fd, 1 << 30, os.SEEK_SET)
    os.write(fd, b"x")
    print("ESCAPED: wrote a byte at offset 1 GiB")
except OSError as error:
    print(f"BLOCKED: write at offset 1 GiB ({name_of(error)})")
try:
    os.ftruncate(fd, 1 << 30)
    print("ESCAPED: truncated a file up to 1 GiB")
except OSError as error:
    print(f"BLOCKED: ftruncate to 1 GiB ({name_of(error)})")
try:
    os.posix_fallocate(fd, 0, 32 << 20)
    print("ESCAPED: fallocated 32 MiB")
except OSError as error:
    print(f"BLOCKED: posix_fallocate of 32 MiB ({name_of(error)})")
os.close(fd)

for name in ("big.bin", "sparse.bin"):
    if os.path.getsize(name) > LIMIT:
        print(f"ESCAPED: {name} is {os.path.getsize(name)} bytes")
    os.unlink(name)
