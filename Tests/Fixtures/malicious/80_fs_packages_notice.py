# expect: ok
# The packages notice is bound read-only over the interpreter's own PEP 668 marker: a run can read it, but neither write, replace, remove nor unmount it, nor see the host's marker beneath.
# require: BLOCKED: write the marker
# require: BLOCKED: replace the marker
# require: BLOCKED: remove the marker
# require: BLOCKED: unmount the marker
# require: BLOCKED: the host's marker stays covered
import ctypes
import os
import sysconfig

from probes import why

path = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
if "This sandbox cannot install packages" in open(path).read():
    print("BLOCKED: the host's marker stays covered")
else:
    print("ESCAPED: the marker is not the service's notice")

try:
    with open(path, "a") as marker:
        marker.write("x")
    print("ESCAPED: wrote the marker")
except OSError as error:
    print(f"BLOCKED: write the marker: {why(error)}")

with open("replacement", "w") as replacement:
    replacement.write("[externally-managed]\n")
for label, action in (("replace the marker", lambda: os.replace("replacement", path)),
                      ("remove the marker", lambda: os.unlink(path))):
    try:
        action()
        print(f"ESCAPED: {label}")
    except OSError as error:
        print(f"BLOCKED: {label}: {why(error)}")

libc = ctypes.CDLL(None, use_errno=True)
if libc.umount2(path.encode(), 2) == 0:  # MNT_DETACH
    print("ESCAPED: unmounted the marker")
else:
    print(f"BLOCKED: unmount the marker: {os.strerror(ctypes.get_errno())}")
