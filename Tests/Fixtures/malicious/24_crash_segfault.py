# expect: killed
# Dereferences a NULL pointer through ctypes to crash the interpreter with SIGSEGV.
import ctypes

print("reading address 0", flush=True)
ctypes.string_at(0)
print("survived reading address 0 (unexpected)")
