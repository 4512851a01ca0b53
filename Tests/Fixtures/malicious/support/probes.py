"""File probes shared by the filesystem fixtures; the test places this beside main.py."""
import errno
import os


def why(error):
    return errno.errorcode.get(error.errno, error.errno)


def create_new(path):
    """Creates `path` exclusively (never its parents) and removes it again: ESCAPED if that worked."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as error:
        print(f"BLOCKED: create {path}: {why(error)}")
        return
    os.close(fd)
    os.unlink(path)
    print(f"ESCAPED: created {path}")
