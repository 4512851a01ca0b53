# expect: memoryLimit|error
# Asks for one 8 GiB allocation in a single step.
print("allocating 8 GiB", flush=True)
block = bytearray(8 * 2**30)
print(f"allocated {len(block)} bytes (unexpected)")
