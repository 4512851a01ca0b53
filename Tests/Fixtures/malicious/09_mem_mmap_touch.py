# expect: memoryLimit|error|killed
# Maps anonymous memory (1 GiB, smaller if the address-space limit refuses) and touches every page to make it resident.
import mmap
import sys

mapping = None
for size in (1 << 30, 768 << 20, 512 << 20, 384 << 20):
    try:
        mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        break
    except OSError as error:
        print(f"BLOCKED: mmap of {size >> 20} MiB refused (errno {error.errno})")
if mapping is None:
    sys.exit(1)

print(f"touching {size >> 20} MiB page by page", flush=True)
for offset in range(0, size, mmap.PAGESIZE):
    mapping[offset] = 1
print(f"ESCAPED: {size >> 20} MiB of anonymous memory made resident past the memory limit")
