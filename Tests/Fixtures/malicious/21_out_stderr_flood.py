# expect: outputLimit
# Floods stderr with lines forever, in case only stdout is limited.
import sys

while True:
    print("e" * 1000, file=sys.stderr)
