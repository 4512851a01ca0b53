"""The bootstrap's first part: what `site` would have done that programs
notice, and the service's settings.

The bootstrap is one program, these files joined in the order
Bootstrap.swift gives, run with `python -I -S ... -c SOURCE SETTINGS...`:
each part sees the names of the parts before it. What a part does when
the sandbox starts is under `if __name__ == "__main__":`, so that a test
can execute its definitions alone (tests/). Before the run's request the
bootstrap imports nothing beyond what the interpreter itself loads.
"""
import builtins, os, sys


def read_settings(arguments):
    """The service's settings: the arguments after the source, in pairs of a
    name and one value (a name may come again: a list). Plain arguments, not
    JSON: `json` would cost every sandbox's start its import."""
    found = {"site-packages": [], "package-layer": [], "font-cache": [], "preload": [], "set-module": []}
    for name, value in zip(arguments[0::2], arguments[1::2]):
        found[name].append(value)
    return found


def install_site(settings):
    """sys.path and the builtins `site` gives. pip's stand-in comes first,
    then the run's package set (either may be absent), then the
    interpreter's site directories."""
    import _sitebuiltins
    sys.path.extend([path for path in settings["package-layer"] if os.path.isdir(path)] + settings["site-packages"])
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    builtins.help = _sitebuiltins._Helper()
    builtins.copyright = _sitebuiltins._Printer("copyright", sys.copyright)
    builtins.credits = _sitebuiltins._Printer("credits", "Thanks to CWI, CNRI, BeOpen, Zope Corporation, the Python Software Foundation and many others.")
    builtins.license = _sitebuiltins._Printer("license", "See https://www.python.org/psf/license/")


# Import names whose PyPI package is called otherwise (the hint below).
_PACKAGE_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python-headless", "PIL": "pillow", "yaml": "pyyaml",
    "bs4": "beautifulsoup4", "skimage": "scikit-image", "dateutil": "python-dateutil", "attr": "attrs",
    "Crypto": "pycryptodome", "dotenv": "python-dotenv", "docx": "python-docx", "jwt": "pyjwt", "serial": "pyserial",
    "OpenSSL": "pyopenssl", "magic": "python-magic", "Bio": "biopython", "fitz": "pymupdf", "sympy": "sympy"}

def _missing_module_hint(error):
    # After the traceback of an import of something not here: how a run asks for a package.
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return
    top = error.name.partition(".")[0]
    if top.startswith("_") or top in getattr(sys, "stdlib_module_names", ()) or os.path.exists(top + ".py") or os.path.isdir(top):
        return
    name = _PACKAGE_NAMES.get(top, top.replace("_", "-").lower())
    print(f"hint: '{top}' is not installed here. If it is a PyPI package, name it in the run's packages "
          f"(sandbox run --package {name}; the editor's Packages field; \"packages\": [\"{name}\"]): "
          "the service installs it once, outside the sandbox.", file=sys.stderr)


if __name__ == "__main__":
    SETTINGS = read_settings(sys.argv[1:])
    # The program (and a fork server's preloaded modules) see sys.argv as without settings.
    del sys.argv[1:]
    install_site(SETTINGS)
