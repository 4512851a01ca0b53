# expect: killed
# Runs machine code that enters the kernel through int 0x80, the i386 syscall table, which a filter written for x86_64 might not match.
import ctypes
import mmap

# mov eax, 20 (i386 getpid); int 0x80; ret
code = bytes([0xB8, 0x14, 0x00, 0x00, 0x00, 0xCD, 0x80, 0xC3])
page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                 prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
function = ctypes.CFUNCTYPE(ctypes.c_int)(address)
print("calling getpid through int 0x80", flush=True)
function()
