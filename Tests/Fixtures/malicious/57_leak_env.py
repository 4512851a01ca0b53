# expect: ok
# Looks for the host's secret and the host's variables in the environment; only the sandbox's own variables may be there.
# require: ENV PATH
# require: ENV HOME
# require: ENV TMPDIR
# require: ENV LANG
# require: ENV USER
# require: ENV LOGNAME
# require: BLOCKED: env secret absent
import json
import os

host = json.load(open("host.json"))
secret_name = host["envSecretName"]
allowed = {"PATH", "HOME", "TMPDIR", "LANG", "USER", "LOGNAME", "MALLOC_ARENA_MAX",
           "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MPLBACKEND", "MPLCONFIGDIR",
           # The sandbox's own: pip's stand-in and the run's packages for a Python the
           # program starts, and where pip asks the service (when the run's runner answers).
           "PYTHONPATH", "SANDBOX_PIP_CHANNEL"}
secret_dir = os.path.basename(os.path.dirname(host["hostSecretPath"]))

for name in sorted(os.environ):
    print(f"ENV {name}")
    if name not in allowed and name != secret_name:
        print(f"ESCAPED: unexpected environment variable {name}")
    if secret_dir in os.environ[name]:
        print(f"ESCAPED: {name} names the host secret directory")

if secret_name in os.environ:
    print("ESCAPED: env secret visible in os.environ")
else:
    print("BLOCKED: env secret absent from os.environ")
if any(name.startswith("PYSANDBOX") for name in os.environ):
    print("ESCAPED: a PYSANDBOX variable leaked into the environment")

try:
    with open("/proc/self/environ", "rb") as file:
        raw = file.read()
except OSError as error:
    print(f"note: /proc/self/environ unreadable ({type(error).__name__})")
else:
    if secret_name.encode() in raw:
        print("ESCAPED: env secret in /proc/self/environ")
    else:
        print("BLOCKED: env secret absent from /proc/self/environ")
