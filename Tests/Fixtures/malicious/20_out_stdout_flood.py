# expect: outputLimit
# Floods stdout with lines forever to exhaust the host's memory or disk.
while True:
    print("x" * 1000)
