# expect: ok
# Drops executables into the writable workdir (and /dev/shm) and runs them: a script, a copied binary, a shared library and an executable mapping; then a copied binary from a memfd (execveat, /proc/self/fd) and from an unnamed tmpfile.
# Native code inside the interpreter (ctypes, an anonymous executable mapping) is not what noexec stops: the seccomp filter bounds it as it bounds Python.
# require: BLOCKED: exec a copied binary
# require: BLOCKED: exec a copied binary from /dev/shm
# require: BLOCKED: memfd_create
# require: BLOCKED: exec an unnamed tmpfile
import errno
import glob
import mmap
import os
import shutil
import stat
import subprocess


def why(error):
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


with open("dropper.sh", "w") as file:
    file.write("#!/bin/sh\necho ESCAPED: a script in the workdir ran\n")
os.chmod("dropper.sh", 0o755)
try:
    subprocess.run(["./dropper.sh"], timeout=2)
except OSError as error:
    print(f"BLOCKED: exec a dropped script: {why(error)}")

binary = shutil.which("true") or "/usr/bin/true"
shutil.copy(binary, "dropped-true")
os.chmod("dropped-true", 0o755 | stat.S_IXUSR)
try:
    result = subprocess.run(["./dropped-true"], timeout=2)
    print(f"ESCAPED: exec a copied binary (exit {result.returncode})")
except OSError as error:
    print(f"BLOCKED: exec a copied binary: {why(error)}")

shutil.copy(binary, "/dev/shm/dropped-true")
os.chmod("/dev/shm/dropped-true", 0o755)
try:
    result = subprocess.run(["/dev/shm/dropped-true"], timeout=2)
    print(f"ESCAPED: exec a copied binary from /dev/shm (exit {result.returncode})")
except OSError as error:
    print(f"BLOCKED: exec a copied binary from /dev/shm: {why(error)}")

libraries = sorted(glob.glob("/usr/lib/python3*/lib-dynload/*.so"))
if libraries:
    import ctypes

    shutil.copy(libraries[0], "dropped.so")
    try:
        ctypes.CDLL(os.path.abspath("dropped.so"))
        print("ESCAPED: loaded a shared library from the workdir")
    except OSError as error:
        print(f"BLOCKED: load a shared library from the workdir: {error}")

with open("dropped-true", "rb") as file:
    try:
        mapping = mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC, flags=mmap.MAP_PRIVATE)
        mapping.close()
        print("ESCAPED: mapped a workdir file executable")
    except OSError as error:
        print(f"BLOCKED: executable mapping of a workdir file: {why(error)}")

try:
    memory_file = os.memfd_create("dropped")
    with open(binary, "rb") as source:
        os.write(memory_file, source.read())
    try:
        os.execve(f"/proc/self/fd/{memory_file}", ["dropped"], {})
    except OSError as error:
        print(f"BLOCKED: exec a memfd: {why(error)}")
    print("ESCAPED: memfd_create gave a file outside the noexec workdir")
except OSError as error:
    print(f"BLOCKED: memfd_create: {why(error)}")

try:
    unnamed = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o755)
    with open(binary, "rb") as source:
        os.write(unnamed, source.read())
    pid = os.fork()
    if pid == 0:
        try:
            os.execve(f"/proc/self/fd/{unnamed}", ["unnamed"], {})
        except OSError as error:
            print(f"BLOCKED: exec an unnamed tmpfile: {why(error)}", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
except OSError as error:
    print(f"BLOCKED: exec an unnamed tmpfile: {why(error)}")
