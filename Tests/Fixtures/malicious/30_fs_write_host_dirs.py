# expect: ok
# Tries to create files in host directories: /root, /home and the directory holding the host's secret.
# require: BLOCKED: create /root/pwned
# require: BLOCKED: create /home/pwned
import json
import os

from probes import create_new, why

host = json.load(open("host.json"))
secret_dir = os.path.dirname(host["hostSecretPath"])


for path in ("/root/pwned", "/home/pwned", os.path.join(secret_dir, "pwned"),
             os.path.join(os.path.dirname(host["unixSocketPath"]), "pwned2")):
    create_new(path)

try:
    fd = os.open(host["hostSecretPath"], os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    print("ESCAPED: the host secret file opened for writing")
except OSError as error:
    print(f"BLOCKED: write host secret file: {why(error)}")
