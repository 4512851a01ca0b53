# expect: ok
# Tampers with the standard library for later runs: rewrites json/__init__.py, drops sitecustomize and shadow modules, and monkey-patches json.dumps in memory.
# require: BLOCKED: rewrite json/__init__.py
import errno
import json
import os
import sys

json_dir = os.path.dirname(json.__file__)
stdlib_dir = os.path.dirname(os.__file__)
MARKER = b"# pysandbox-planted by 65_state_tamper_stdlib\n"


def why(error):
    return errno.errorcode.get(error.errno, error.errno)


# Outside the workdir, never destructive: existing files are opened for append
# and left untouched; new files are created exclusively and hold only an inert
# marker comment (a broken sandbox must not plant running code on the host).
try:
    fd = os.open(os.path.join(json_dir, "__init__.py"), os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    print("ESCAPED: json/__init__.py opened for writing")
except OSError as error:
    print(f"BLOCKED: rewrite json/__init__.py: {why(error)}")

for path in (os.path.join(stdlib_dir, "sitecustomize.py"), os.path.join(stdlib_dir, "usercustomize.py"),
             os.path.join(json_dir, "__pycache__", "pysandbox-planted.pyc"),
             os.path.join(json_dir, "pysandbox_planted.py")):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as error:
        print(f"BLOCKED: create {path}: {why(error)}")
        continue
    os.write(fd, MARKER)
    os.close(fd)
    print(f"ESCAPED: created {path}")

# In the private workdir these succeed; they must not reach the next run.
evil = MARKER + b"import json\njson.dumps = lambda *a, **k: 'TAMPERED'\n"
for name in ("json.py", "sitecustomize.py", "usercustomize.py"):
    with open(name, "wb") as file:
        file.write(evil)
print("planted shadow json.py and sitecustomize.py in the workdir")

# In memory: this process only.
json.dumps = lambda *args, **kwargs: "TAMPERED"
json.JSONEncoder.encode = lambda self, obj: "TAMPERED"
sys.modules["json"].dumps = json.dumps
print(f"patched json.dumps in memory: json.dumps({{'a': 1}}) -> {json.dumps({'a': 1})}")
