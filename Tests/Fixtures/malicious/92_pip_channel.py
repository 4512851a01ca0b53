# expect: ok
# Goes after what `pip install` inside a run adds: pip's stand-in (/opt/pysandbox/shims), the folder a
# set is mounted on, and the pipes the program reopens through /proc to reach the service. It may
# reopen its own (they carry only its own words); nothing else: not pid 1's, not another process's
# beyond its own, and the stand-in and the folder cannot be changed.
# require: BLOCKED: replace pip's stand-in
# require: BLOCKED: plant a module beside pip's stand-in
# require: BLOCKED: plant a module where sets are mounted
# require: BLOCKED: pid 1's descriptors
import os

from refusals import refused, why

shim = "/opt/pysandbox/shims/pip/__init__.py"
if os.path.exists(shim):
    refused("replace pip's stand-in", lambda: open(shim, "w").close())
    refused("plant a module beside pip's stand-in", lambda: open("/opt/pysandbox/shims/requests.py", "w").close())
else:
    print("BLOCKED: replace pip's stand-in: there is none")
    print("BLOCKED: plant a module beside pip's stand-in: there is none")
refused("plant a module where sets are mounted", lambda: open("/opt/pysandbox/packages/requests.py", "w").close())
refused("make pip's stand-in's folder writable", lambda: os.chmod("/opt/pysandbox/shims", 0o777))

# pid 1 (the run's init) is not the program's: its descriptors stay closed to it.
try:
    entries = os.listdir("/proc/1/fd")
except OSError as error:
    print(f"BLOCKED: pid 1's descriptors: {why(error)}")
else:
    opened = []
    for entry in entries:
        try:
            os.close(os.open(f"/proc/1/fd/{entry}", os.O_RDONLY))
            opened.append(entry)
        except OSError:
            pass
    print("ESCAPED: opened pid 1's descriptors " + str(opened) if opened else "BLOCKED: pid 1's descriptors: none opens")

# Its own pipes, reopened, are its own: what it writes into its answers pipe only it reads.
for fd in (1, 3, 4):
    try:
        os.close(os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK))
        print(f"NOTE: reopened its own fd {fd}")
    except OSError as error:
        print(f"NOTE: fd {fd} does not reopen: {why(error)}")
print("DONE")
