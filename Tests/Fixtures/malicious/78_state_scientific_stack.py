# expect: ok
# Tampers with what the scientific stack shares between runs: matplotlib's font list (built at service start, linked into a run that imports matplotlib), Debian's alternatives (BLAS), matplotlibrc, and the preloaded modules' files.
# require: BLOCKED: font list
# require: BLOCKED: font cache directory
# require: BLOCKED: alternatives
# require: BLOCKED: matplotlibrc
# require: BLOCKED: numpy package
import errno
import glob
import os


def attempt(label, path, make):
    try:
        make(path)
    except OSError as error:
        print(f"BLOCKED: {label}: {path}: {errno.errorcode.get(error.errno, error.errno)}")
    else:
        print(f"ESCAPED: {label}: wrote {path}")


def overwrite(path):
    with open(path, "r+b") as file:
        file.write(b"{")


def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


import matplotlib  # links the font list into MPLCONFIGDIR in a run that imports it itself
import numpy

config = os.environ.get("MPLCONFIGDIR", "/tmp")
lists = glob.glob(os.path.join(config, "fontlist-*.json")) + glob.glob("/etc/pysandbox/matplotlib/fontlist-*.json")
cache_directories = sorted({os.path.dirname(os.path.realpath(path)) for path in lists}) or ["/etc/pysandbox/matplotlib"]
for path in lists:
    attempt("font list", os.path.realpath(path), overwrite)
if not lists:
    # A preloaded matplotlib read the list in the fork server; the run has only the cache directory.
    print("BLOCKED: font list: not linked into this run")
for directory in cache_directories:
    attempt("font cache directory", os.path.join(directory, "planted.json"), create)
attempt("alternatives", "/etc/alternatives/planted", create)
attempt("matplotlibrc", "/etc/matplotlibrc", overwrite)
attempt("numpy package", os.path.join(os.path.dirname(numpy.__file__), "planted.py"), create)
