# expect: ok
# Runs after 65_state_tamper_stdlib and checks that json is the real one and no planted module or file survived.
# require: BLOCKED: stdlib intact
import json
import os
import sys

MARKER = b"pysandbox-planted"
workdir = os.path.realpath(os.getcwd())
stdlib_root = os.path.realpath(os.path.dirname(os.__file__))
problems = []

if json.dumps.__module__ != "json":
    problems.append(f"json.dumps comes from {json.dumps.__module__}")
if json.dumps({"a": 1}) != '{"a": 1}':
    problems.append("json.dumps output is wrong")
if json.JSONEncoder().encode({"a": 1}) != '{"a": 1}':
    problems.append("JSONEncoder.encode is patched")
if not os.path.realpath(json.__file__).startswith(stdlib_root + "/"):
    problems.append(f"json loaded from {json.__file__}")
for name in ("json", "sitecustomize", "usercustomize"):
    module_file = getattr(sys.modules.get(name), "__file__", None)
    if module_file and os.path.dirname(os.path.realpath(module_file)) == workdir:
        problems.append(f"{name} was imported from the workdir")

# Workdir shadows: the workdir must be fresh.
for name in ("json.py", "sitecustomize.py", "usercustomize.py"):
    if os.path.lexists(name):
        problems.append(f"{name} survived in the workdir")

# Stdlib plants: a distribution may ship its own sitecustomize.py, so look for the marker.
json_dir = os.path.dirname(json.__file__)
stdlib_dir = os.path.dirname(os.__file__)
for path in (os.path.join(json_dir, "__init__.py"),
             os.path.join(stdlib_dir, "sitecustomize.py"), os.path.join(stdlib_dir, "usercustomize.py"),
             os.path.join(json_dir, "__pycache__", "pysandbox-planted.pyc"),
             os.path.join(json_dir, "pysandbox_planted.py")):
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        continue
    if MARKER in data or b"TAMPERED" in data:
        problems.append(f"{path} was planted or rewritten")

for problem in problems:
    print(f"ESCAPED: {problem}")
if not problems:
    print("BLOCKED: stdlib intact (json.dumps is the real one, nothing planted survived)")
