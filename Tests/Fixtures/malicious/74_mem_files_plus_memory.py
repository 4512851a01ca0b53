# expect: memoryLimit|killed|error
# Fills the working directory's tmpfs with 60 MiB of files (memory no process maps), then touches 100 MiB more, under a 128 MiB limit for the run.
import time

with open("filler.bin", "wb") as file:
    for _ in range(60):
        file.write(b"x" * (1 << 20))
block = bytearray(100 << 20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
time.sleep(1)
print("ESCAPED: 160 MiB held under a 128 MiB limit")
