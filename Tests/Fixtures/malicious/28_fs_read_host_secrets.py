# expect: ok
# Hunts for the host's secrets: the planted secret file, /etc/shadow, root's and users' homes, other processes' environments and leaked descriptors.
# require: BLOCKED: read host secret file
import json
import os
import sys

# The interpreter's own prefix is mounted read-only and may live under /root (pyenv).
prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}


def on_interpreter_path(path):
    return any(prefix == path or prefix.startswith(path + "/") or path.startswith(prefix + "/")
               for prefix in prefixes)


host = json.load(open("host.json"))
secret_path = host["hostSecretPath"]
secret_dir = os.path.basename(os.path.dirname(secret_path))
env_name = host["envSecretName"].encode()


def read(path, label):
    try:
        with open(path, "rb") as file:
            data = file.read(1 << 16)
    except OSError as error:
        print(f"BLOCKED: read {label}: {type(error).__name__}")
        return None
    return data


for path, label in ((secret_path, "host secret file"), ("/etc/shadow", "/etc/shadow"),
                    ("/root/.bashrc", "/root/.bashrc"), ("/root/.ssh/id_rsa", "/root/.ssh/id_rsa")):
    if read(path, label) is not None:
        print(f"ESCAPED: read {label}")

for directory in ("/home", "/root", os.path.dirname(secret_path)):
    try:
        entries = os.listdir(directory)
    except OSError as error:
        print(f"BLOCKED: list {directory}: {type(error).__name__}")
        continue
    foreign = [entry for entry in entries if not on_interpreter_path(os.path.join(directory, entry))]
    if foreign:
        print(f"ESCAPED: {directory} lists {len(foreign)} host entries")
    else:
        print(f"BLOCKED: {directory} holds nothing but the interpreter's path")

# Environments of every visible process, our own included.
for entry in sorted(os.listdir("/proc")):
    if not (entry.isdigit() or entry == "self"):
        continue
    data = read(f"/proc/{entry}/environ", f"/proc/{entry}/environ")
    if data is None:
        continue
    if env_name in data:
        print(f"ESCAPED: /proc/{entry}/environ holds the env secret")
    else:
        print(f"BLOCKED: /proc/{entry}/environ holds no secret")

# Descriptors inherited from the host.
for fd in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    if secret_dir in target or "secret" in target:
        print(f"ESCAPED: descriptor {fd} points at {target}")

# Anything with the secret's directory name anywhere outside /usr and /proc.
found = False
for top in ("/", "/tmp", "/etc", "/dev"):
    for root, dirs, files in os.walk(top):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("usr", "proc", "lib", "lib64", "bin", "sbin")]
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in prefixes]
        if secret_dir in root or any(secret_dir in name for name in dirs + files):
            found = True
if found:
    print(f"ESCAPED: the host secret directory name appears in the sandbox filesystem")
else:
    print("BLOCKED: no trace of the host secret directory")
