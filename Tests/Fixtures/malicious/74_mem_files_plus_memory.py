# expect: memoryLimit
# Fills the working directory's tmpfs with 56 MiB of files (memory no process maps; 8 MiB each, under the file size limit), then touches 100 MiB more, under a 128 MiB limit for the run.
import time

for index in range(7):
    with open(f"filler-{index}.bin", "wb") as file:
        for _ in range(8):
            file.write(b"x" * (1 << 20))
print("56 MiB of files written", flush=True)
block = bytearray(100 << 20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
time.sleep(1)
print("ESCAPED: 156 MiB held under a 128 MiB limit")
