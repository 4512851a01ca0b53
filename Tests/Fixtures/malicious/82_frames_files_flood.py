# expect: outputLimit
# return: *.csv
# max-output: 1000
# A program sends files frames in a loop (each a megabyte of base64 naming a matching file) under a 1000-byte output limit: only the first counts; the rest count toward the output limit, so the run ends there instead of keeping the service busy for seconds.
import base64
import json
import time

from frames import find_marker, frame, write_all

marker = find_marker()
payload = json.dumps({"files": [{"path": "a.csv", "base64": base64.b64encode(b"x" * (768 << 10)).decode()}],
                      "omitted": []}).encode()
one = frame(marker, b"files", payload)
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    write_all(one)
print("ESCAPED: eight seconds of files frames were accepted")
