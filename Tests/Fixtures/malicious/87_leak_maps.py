# expect: ok
# Reads /proc/self/maps, /proc/self/mountinfo and /proc/self/environ, and every other process's it may, for paths that name the host: the service's build folder and checkout, its home, its cache, the host secret's folder. The interpreter's own prefix is mounted where it is on the host, and may be named; so may a package set's layer (a bind: its mount's root is the store's layers/KEY/site-packages, and only that).
# require: BLOCKED: no host path in /proc/self/maps
# require: BLOCKED: no host path in /proc/self/mountinfo
# require: BLOCKED: no host path in /proc/self/environ
import json
import re
import os
import sys

host = json.load(open("host.json"))
paths = sorted({os.path.normpath(p) for p in host["hostPaths"] + [os.path.dirname(host["hostSecretPath"])] if len(p) > 1})
# The interpreter's prefix (it may live under /root, with pyenv) is bound read-only at its own path.
prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}


def host_path_in(text):
    """The first host path `text` names (as a whole path component), outside the interpreter's prefix."""
    for word in text.replace("\0", " ").split():
        if any(word == prefix or word.startswith(prefix + "/") for prefix in prefixes):
            continue
        for path in paths:
            if word == path or word.startswith(path + "/") or ("=" in word and path in word):
                return path, word
    return None


def is_package_layer(line):
    """The run's package set: mounted at /opt/pysandbox/packages from a content-addressed folder of the store."""
    fields = line.split()
    return len(fields) > 4 and fields[4] == "/opt/pysandbox/packages" and re.fullmatch(r"/.*/layers/[0-9a-f]{64}/site-packages", fields[3]) is not None


def check(name, pids):
    leaked = False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/{name}", "rb") as file:
                text = file.read().decode("utf-8", "replace")
        except OSError:
            continue
        for line in text.split("\n" if name != "environ" else "\0"):
            if name == "mountinfo" and is_package_layer(line):
                continue
            found = host_path_in(line)
            if found:
                print(f"ESCAPED: /proc/{pid}/{name} names the host's {found[0]}: {line.strip()[:300]}")
                leaked = True
    if not leaked:
        print(f"BLOCKED: no host path in /proc/self/{name}")


pids = ["self"] + [entry for entry in os.listdir("/proc") if entry.isdigit() and int(entry) != os.getpid()]
print(f"looking for {len(paths)} host paths in {len(pids)} processes")
for name in ("maps", "mountinfo", "environ"):
    check(name, pids)
