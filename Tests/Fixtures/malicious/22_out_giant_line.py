# expect: outputLimit
# Writes one endless line with no newline, in case the reader buffers until end of line.
import sys

chunk = "y" * 4096
while True:
    sys.stdout.write(chunk)
    sys.stdout.flush()
