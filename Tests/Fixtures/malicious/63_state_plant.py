# expect: ok
# Plants files for a later run to find: in the workdir, in /dev/shm (a file and a named semaphore), in $HOME, in /usr and in site-packages (a .pth that would run code at every start).
# require: BLOCKED: plant in /usr
import errno
import os
import site

with open("/tmp/planted.txt", "w") as file:
    file.write("left behind by 63_state_plant\n")
with open("/tmp/.planted_hidden", "w") as file:
    file.write("left behind by 63_state_plant\n")
print("planted /tmp/planted.txt in the workdir (the next run must not see it)")
with open("/dev/shm/planted", "w") as file:
    file.write("left behind by 63_state_plant\n")
import _multiprocessing
planted_semaphore = _multiprocessing.SemLock(1, 1, 1, "/planted", False)  # named, not unlinked: /dev/shm/sem.planted
print("planted /dev/shm/planted and a named semaphore (the next run must not see them)")

home = os.environ.get("HOME", "/tmp")
try:
    with open(os.path.join(home, "planted-home.txt"), "w") as file:
        file.write("left behind by 63_state_plant\n")
    print(f"planted a file in HOME={home} (the next run must not see it)")
except OSError as error:
    print(f"BLOCKED: plant in HOME={home}: {errno.errorcode.get(error.errno, error.errno)}")

targets = [("/usr", "/usr/planted.txt"), ("/usr/lib", "/usr/lib/planted.txt")]
for directory in sorted(set(site.getsitepackages() + [os.path.dirname(os.__file__)])):
    targets.append((directory, os.path.join(directory, "zz-planted.pth")))
for label, path in targets:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as error:
        tag = "/usr" if label.startswith("/usr") else label
        print(f"BLOCKED: plant in {tag}: {path}: {errno.errorcode.get(error.errno, error.errno)}")
        continue
    os.write(fd, b"# pysandbox-planted by 63_state_plant (inert)\n")
    os.close(fd)
    print(f"ESCAPED: planted {path}")
