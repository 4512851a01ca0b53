# expect: ok
# Tries to create files in host directories: /root, /home and the directory holding the host's secret.
# require: BLOCKED: create /root/pwned
# require: BLOCKED: create /home/pwned
import errno
import json
import os

host = json.load(open("host.json"))
secret_dir = os.path.dirname(host["hostSecretPath"])


def why(error):
    return errno.errorcode.get(error.errno, error.errno)


def create_new(path):
    # Never creates parent directories: a path that only exists because we
    # made it inside the private workdir proves nothing.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as error:
        print(f"BLOCKED: create {path}: {why(error)}")
        return
    os.close(fd)
    os.unlink(path)
    print(f"ESCAPED: created {path}")


for path in ("/root/pwned", "/home/pwned", os.path.join(secret_dir, "pwned"),
             os.path.join(os.path.dirname(host["unixSocketPath"]), "pwned2")):
    create_new(path)

try:
    fd = os.open(host["hostSecretPath"], os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    print("ESCAPED: the host secret file opened for writing")
except OSError as error:
    print(f"BLOCKED: write host secret file: {why(error)}")
