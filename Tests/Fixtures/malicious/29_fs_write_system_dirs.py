# expect: ok
# Tries to modify system files and directories: the stdlib's os.py, /etc/passwd, /bin, /usr, /etc and the root directory.
# require: BLOCKED: write /etc/passwd
import glob
import os

from probes import create_new, why

# Non-destructive on purpose: existing files are opened for append and never
# written; new files are created exclusively and removed again.


def open_existing(path):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError as error:
        print(f"BLOCKED: write {path}: {why(error)}")
        return
    os.close(fd)
    print(f"ESCAPED: {path} opened for writing")


for path in sorted(set(glob.glob("/usr/lib/python3*/os.py") + [os.__file__])):
    open_existing(path)
for path in ("/etc/passwd", "/etc/hosts", "/etc/group"):
    open_existing(path)
for directory in ("/bin", "/usr/bin", "/usr/lib", "/usr", "/etc", "/", "/dev", "/lib"):
    create_new(os.path.join(directory, "pwned"))

try:
    os.mkdir("/usr/pwned-dir")
    os.rmdir("/usr/pwned-dir")
    print("ESCAPED: created a directory in /usr")
except OSError as error:
    print(f"BLOCKED: mkdir /usr/pwned-dir: {why(error)}")

try:
    mode = os.stat("/etc/passwd").st_mode & 0o7777
    os.chmod("/etc/passwd", mode)  # same mode: a no-op if it were allowed
    print("ESCAPED: chmod /etc/passwd allowed")
except OSError as error:
    print(f"BLOCKED: chmod /etc/passwd: {why(error)}")

try:
    os.link("/etc/passwd", "/etc/passwd-link")
    os.unlink("/etc/passwd-link")
    print("ESCAPED: hard link created in /etc")
except OSError as error:
    print(f"BLOCKED: link in /etc: {why(error)}")

try:
    fd = os.open("/proc/sysrq-trigger", os.O_WRONLY)
    os.close(fd)
    print("ESCAPED: /proc/sysrq-trigger opened for writing")
except OSError as error:
    print(f"BLOCKED: open /proc/sysrq-trigger: {why(error)}")
