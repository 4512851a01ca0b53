# expect: ok
# return: *.csv
# returned: real.csv
# require: FORGED: sent
# A program forges its own files frame (it can read the marker from its own memory) naming paths no pattern asked for, paths outside the working directory and a second copy of a matching one, then leaves with os._exit so the real frame never comes. Only what the run's patterns match comes back, once.
import base64
import json
import os

from frames import find_marker, send

marker = find_marker()
with open("real.csv", "w") as f:
    f.write("a,b\n")
evil = base64.b64encode(b"echo pwned\n").decode()
files = [{"path": p, "base64": evil} for p in (
    ".bashrc", ".git/hooks/pre-commit", "../escape.csv", "/etc/cron.d/x.csv", "a//b.csv", "./x.csv",
    "sub/deep.csv", ".hidden.csv", "main.py", "x.csv\0.txt", "")]
files += [{"path": "real.csv", "base64": base64.b64encode(b"a,b\n").decode()}] * 2
omitted = [{"path": p, "reason": "unreadable"} for p in (".bashrc", "/etc/passwd", "../../x.csv")]
omitted += [{"path": "*.txt", "reason": "noMatch"}, {"path": "real.csv", "reason": "bogus"}]
send(marker, b"files", json.dumps({"files": files, "omitted": omitted}).encode())
print("FORGED: sent")
os._exit(0)
