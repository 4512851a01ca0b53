# expect: ok
# Runs after 63_state_plant and looks for anything it left behind: the workdir, /dev/shm, $HOME, /usr and site-packages must be fresh.
# require: BLOCKED: fresh workdir
import os
import site

home = os.environ.get("HOME", "/tmp")
leftovers = ["/tmp/planted.txt", "/tmp/.planted_hidden", "/dev/shm/planted", "/dev/shm/sem.planted",
             os.path.join(home, "planted-home.txt"),
             "/usr/planted.txt", "/usr/lib/planted.txt"]
for directory in sorted(set(site.getsitepackages() + [os.path.dirname(os.__file__)])):
    leftovers.append(os.path.join(directory, "zz-planted.pth"))
found = [path for path in leftovers if os.path.lexists(path)]
for path in found:
    print(f"ESCAPED: {path} survived from an earlier run")
print(f"workdir holds: {sorted(os.listdir('.'))}; /dev/shm holds: {sorted(os.listdir('/dev/shm'))}")
if os.listdir("/dev/shm"):
    print("ESCAPED: /dev/shm is not empty at the start of a run")
if not found:
    print("BLOCKED: fresh workdir (nothing survived from the earlier run)")
