# expect: memoryLimit
# Fills /dev/shm (a tmpfs of the run's own, for semaphores and shared memory) until it is full, then puts 32 MiB in the working directory and touches 32 MiB of memory: over a 128 MiB limit for the run only if /dev/shm counts.
# require: BLOCKED: /dev/shm full after
import errno
import time

CHUNK = b"\x5a" * (1 << 20)
PER_FILE = 8  # MiB per file, below the file size limit, so the tmpfs fills first


written = {}  # MiB per directory


def fill(directory, megabytes):
    """Writes up to `megabytes` MiB into `directory`, in files of PER_FILE MiB."""
    written[directory] = 0
    for index in range(megabytes // PER_FILE):
        with open(f"{directory}/filler-{index}", "wb") as file:
            for _ in range(PER_FILE):
                file.write(CHUNK)
                file.flush()
                written[directory] += 1


try:
    fill("/dev/shm", 512)
    print(f"ESCAPED: wrote {written['/dev/shm']} MiB into /dev/shm")
except OSError as error:
    print(f"BLOCKED: /dev/shm full after {written['/dev/shm']} MiB: {errno.errorcode.get(error.errno, error.errno)}",
          flush=True)

fill(".", 32)
block = bytearray(32 << 20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
time.sleep(1)
print("ESCAPED: /dev/shm full, 32 MiB in the workdir and 32 MiB of memory under a 128 MiB limit")
