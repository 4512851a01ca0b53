# expect: outputLimit
# Floods stdout with random binary bytes, which are not valid UTF-8.
import os
import sys

while True:
    sys.stdout.buffer.write(os.urandom(4096))
    sys.stdout.buffer.flush()
