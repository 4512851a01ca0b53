# expect: killed
# Calls abort() to end the interpreter with SIGABRT (and try for a core dump).
import os

print("aborting", flush=True)
os.abort()
