# expect: ok|outputLimit
# max-output: 4096
# The other frame kinds, forged: end frames in a one-off run, stdin_wanted and empty stderr frames in a loop, displays, a display_too_large: each counts toward the output limit or ends the run; none changes the verdict's accounting or outlives its limits.
import json
import time

from frames import find_marker, frame, write_all

marker = find_marker()
write_all(frame(marker, b"end", b"0"))
write_all(frame(marker, b"end", b"-1"))
display = json.dumps({"data": {"text/plain": "x" * 100}}).encode()
deadline = time.monotonic() + 2
burst = frame(marker, b"stdin_wanted", b"") + frame(marker, b"stderr", b"") + frame(marker, b"display", display)
while time.monotonic() < deadline:
    write_all(burst * 100)
print("ESCAPED: two seconds of empty frames were accepted")
