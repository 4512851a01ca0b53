# expect: ok
# Goes after the run's package set (bound read-only at /opt/pysandbox/packages when a run names one):
# writes, replaces, renames, chmods and removes its files, remounts it writable, climbs out of it, and
# looks for the host path it came from. Also run where no set is mounted: then the folder is empty (the
# mount point a `pip install` in the run would mount a set on), on the read-only root, and stays so.
# require: DONE
import ctypes
import errno
import os

from refusals import refused, why

LAYER = "/opt/pysandbox/packages"
libc = ctypes.CDLL(None, use_errno=True)

if not os.path.isdir(LAYER):
    print("ESCAPED: the sandbox has no folder for package sets (a run's own /opt/pysandbox/packages)")
else:
    names = sorted(os.listdir(LAYER))
    print("layer holds", names)
    module = next((name for name in names if os.path.isdir(os.path.join(LAYER, name)) and not name.endswith(".dist-info")), None)
    target = os.path.join(LAYER, module, "__init__.py") if module else None
    refused("create a file in the layer", lambda: open(os.path.join(LAYER, "planted.py"), "w").close())
    refused("make a folder in the layer", lambda: os.mkdir(os.path.join(LAYER, "planted")))
    refused("remove the layer's folder", lambda: os.rmdir(LAYER))
    if target:
        refused("append to a package's module", lambda: open(target, "a").close())
        refused("open a package's module read-write", lambda: os.close(os.open(target, os.O_RDWR)))
        refused("truncate a package's module", lambda: os.truncate(target, 0))
        refused("chmod a package's module", lambda: os.chmod(target, 0o777))
        refused("rename a package's module", lambda: os.rename(target, target + ".moved"))
        refused("remove a package's module", lambda: os.unlink(target))
        refused("replace a package's module by a link", lambda: os.symlink("/etc/passwd", target))
        refused("set a timestamp", lambda: os.utime(target, (0, 0)))
        refused("hard-link a module into the workdir", lambda: os.link(target, "linked.py"))
        # Its own copy is fine: the program may do what it likes with it, nothing changes in the layer.
        with open(target, "rb") as source, open("copy.py", "wb") as copy:
            copy.write(source.read())
        with open(target, "rb") as source:
            print("module unchanged" if source.read() == open("copy.py", "rb").read() else "ESCAPED: module changed")
    # A remount (the seccomp filter's EPERM, and no capability for it anyway).
    ctypes.set_errno(0)
    result = libc.mount(None, LAYER.encode(), None, ctypes.c_ulong(32 | 4096), None)  # MS_REMOUNT | MS_BIND
    print("ESCAPED: remounted the layer writable" if result == 0 else f"BLOCKED: remount the layer: {errno.errorcode.get(ctypes.get_errno())}")
    # Upwards from the layer is the sandbox's own root: no host folder, no other layer.
    above = os.path.realpath(os.path.join(LAYER, "..", "..", ".."))
    print("above the layer:", above, sorted(os.listdir(above))[:20])
    for host_path in ("/var/cache/pysandbox", "/home", "/root", "/srv", "/var"):
        if os.path.exists(host_path):
            print(f"ESCAPED: {host_path} is visible")
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if fields[4] == LAYER:
                options = fields[5].split(",")
                print("layer mount options", fields[5])
                if "rw" in options or "nosuid" not in options or "nodev" not in options:
                    print("ESCAPED: the layer is mounted", fields[5])
print("DONE")
