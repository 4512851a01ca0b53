"""Builds the package store tests' folder of wheels, with no index and no build tool.

usage: /usr/bin/python3 make_wheels.py OUT_DIR [--shadow NAME] [--sdist-marker PATH]

  tinyleaf 1.0 and 2.0     pure Python
  tinytop 1.0              pure Python, requires tinyleaf>=1
  tinybig 1.0              pure Python with 256 KiB of incompressible data
  tinyslow 1.0             pure Python (the fake installer stalls on it)
  tinycext 1.0             a C extension for this interpreter (only with its headers and gcc)
  sdistonly 1.0            a source distribution only: its setup.py would write
                           --sdist-marker if anything ever built it on the host
  NAME 999.0 and needsnewer 1.0 (with --shadow NAME): a newer copy of a system
                           package, and a package requiring it

A wheel is a zip with METADATA, WHEEL and RECORD in NAME-VERSION.dist-info.
"""
import base64, hashlib, io, os, subprocess, sys, sysconfig, tarfile, tempfile, zipfile


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(out, name, version, files, requires=(), tag="py3-none-any", purelib=True):
    dist = f"{name.replace('-', '_')}-{version}"
    info = f"{dist}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = dict(files)
    files[f"{info}/METADATA"] = metadata.encode()
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: pysandbox-tests\nRoot-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n"
    ).encode()
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = os.path.join(out, f"{dist}-{tag}.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name_in_zip, data in files.items():
            archive.writestr(name_in_zip, data)
    return path


def module(text):
    return text.encode()


def cext_wheel(out):
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        print("no Python.h: no C extension wheel", file=sys.stderr)
        return
    source = r"""
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinycext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tinycext(void) { return PyModule_Create(&module); }
"""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    with tempfile.TemporaryDirectory() as work:
        c = os.path.join(work, "tinycext.c")
        so = os.path.join(work, "tinycext" + suffix)
        with open(c, "w") as f:
            f.write(source)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-I", include, c, "-o", so], check=True)
        with open(so, "rb") as f:
            data = f.read()
    abi = "cp%d%d" % sys.version_info[:2]
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    wheel(out, "tinycext", "1.0", {"tinycext" + suffix: data}, tag=f"{abi}-{abi}-{platform}", purelib=False)


def sdist(out, marker):
    setup = f"""
import pathlib
pathlib.Path({marker!r}).write_text("the host ran a package's build code")
from setuptools import setup
setup(name="sdistonly", version="1.0", py_modules=["sdistonly"])
"""
    members = {
        "sdistonly-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: sdistonly\nVersion: 1.0\n",
        "sdistonly-1.0/setup.py": setup,
        "sdistonly-1.0/sdistonly.py": "VALUE = 'built'\n",
    }
    with tarfile.open(os.path.join(out, "sdistonly-1.0.tar.gz"), "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))


def main():
    out = sys.argv[1]
    shadow = sys.argv[sys.argv.index("--shadow") + 1] if "--shadow" in sys.argv else None
    marker = sys.argv[sys.argv.index("--sdist-marker") + 1] if "--sdist-marker" in sys.argv else "/nonexistent/marker"
    os.makedirs(out, exist_ok=True)
    for version in ("1.0", "2.0"):
        wheel(out, "tinyleaf", version, {"tinyleaf/__init__.py": module(f"VERSION = {version!r}\n")})
    wheel(out, "tinytop", "1.0",
          {"tinytop/__init__.py": module("import tinyleaf\nDESCRIPTION = 'top on leaf ' + tinyleaf.VERSION\n")},
          requires=["tinyleaf>=1"])
    wheel(out, "tinybig", "1.0",
          {"tinybig/__init__.py": module("SIZE = 262144\n"), "tinybig/data.bin": os.urandom(262144)})
    wheel(out, "tinyslow", "1.0", {"tinyslow/__init__.py": module("VALUE = 'slow'\n")})
    cext_wheel(out)
    sdist(out, marker)
    if shadow:
        module_name = shadow.replace("-", "_")
        wheel(out, shadow, "999.0", {f"{module_name}_shadow_test.py": module("VALUE = 999\n")})
        wheel(out, "needsnewer", "1.0", {"needsnewer.py": module("VALUE = 1\n")}, requires=[f"{shadow}>=999"])


main()
