# expect: memoryLimit|error
# Grows memory 1 MiB at a time forever to exhaust the host's RAM.
hoard = []
while True:
    hoard.append(b"\x01" * (1 << 20))
    if len(hoard) % 32 == 0:
        print(f"holding {len(hoard)} MiB", flush=True)
