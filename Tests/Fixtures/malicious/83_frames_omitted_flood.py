# expect: ok
# return: *.csv
# A forged files frame lists hundreds of thousands of entries (unreadable, over the limit, omitted) for paths the patterns match: each list in the verdict stays within its cap.
import json
import os

from frames import find_marker, send

marker = find_marker()
files = [{"path": f"f{i}.csv", "base64": "!"} for i in range(100_000)]
omitted = [{"path": f"o{i}.csv", "reason": "overLimit"} for i in range(100_000)]
send(marker, b"files", json.dumps({"files": files, "omitted": omitted}).encode())
print("FORGED: sent")
os._exit(0)
