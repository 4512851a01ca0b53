"""What the service asks an interpreter before it uses it (Interpreter.swift),
run on the host with `-I -S -c`: where it lives, its version and prefixes,
its site directories, which of the modules named in its arguments
(ScientificStack.modules) it can import, and its standard library; one
line of JSON on stdout.
"""
import importlib.util, json, os, site, sys, sysconfig

if __name__ == "__main__":
    sys.path.extend(p for p in site.getsitepackages() if os.path.isdir(p))
    print(json.dumps({"executable": os.path.realpath(sys.executable), "version": sys.version.split()[0],
        "prefixes": sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}),
        "sitePackages": [p for p in site.getsitepackages() if os.path.isdir(p)],
        "scientificModules": [m for m in sys.argv[1:] if importlib.util.find_spec(m)],
        "standardLibrary": sysconfig.get_path("stdlib")}))
