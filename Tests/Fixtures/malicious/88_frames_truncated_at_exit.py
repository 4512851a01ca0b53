# expect: ok
# return: *.csv
# returned:
# omitted: notCollected *.csv
# require: TRUNCATED: sent
# A program starts a files frame whose header promises more than it sends, then leaves with os._exit, so neither its frame nor the real one ever completes: nothing half-read is taken as returned files, and every pattern is reported as not collected.
import base64
import json
import os

from frames import find_marker, write_all

marker = find_marker()
with open("real.csv", "w") as f:
    f.write("a,b\n")
payload = json.dumps({"files": [{"path": "real.csv", "base64": base64.b64encode(b"forged\n").decode()}], "omitted": []}).encode()
print("TRUNCATED: sent", flush=True)
write_all(marker + b"files %d\n" % (len(payload) + 1000) + payload)
os._exit(0)
