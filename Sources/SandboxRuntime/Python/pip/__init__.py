"""pip in a PySandbox sandbox.

The sandbox has no network and its Python is read-only, so pip here does
not install anything itself: `pip install` asks the service, which
installs the packages once, outside the sandbox, from the index its
operator chose, and mounts them read-only into this run or session. They
can be imported from the next statement on. `pip list`, `pip freeze` and
`pip show` describe what this interpreter can import.
"""
import os
import sys

__version__ = "pysandbox"

_USAGE = """Usage: pip install [-r FILE] REQUIREMENT...
       pip list | pip freeze | pip show NAME...

In this sandbox `pip install` asks the service for the packages: it
installs them once, outside the sandbox, and mounts them read-only here.
Requirements are names with optional extras and versions (requests,
pandas>=2, httpx[http2]); no URLs, paths or index options."""

# Options of pip install that change nothing here.
_IGNORED_FLAGS = {"-q", "--quiet", "-qq", "-U", "--upgrade", "--user", "--no-cache-dir", "--break-system-packages",
                  "--disable-pip-version-check", "--no-warn-script-location", "-v", "--verbose", "--no-input",
                  "--no-color", "--isolated", "--prefer-binary", "--only-binary=:all:"}
_IGNORED_WITH_VALUE = {"--root-user-action", "--progress-bar", "--upgrade-strategy", "--timeout", "--retries"}


def _say(text, file=None):
    print(text, file=file or sys.stdout, flush=True)


def _requirements_file(path):
    lines = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("-"):
                raise ValueError(f"{path}:{number}: options are not available here: {line}")
            lines.append(line)
    return lines


def _install_arguments(args):
    requirements = []
    items = iter(args)
    for arg in items:
        if arg in _IGNORED_FLAGS:
            continue
        if arg.split("=", 1)[0] in _IGNORED_WITH_VALUE:
            if "=" not in arg:
                next(items, None)
            continue
        if arg in ("-r", "--requirement"):
            path = next(items, None)
            if path is None:
                raise ValueError(f"{arg} needs a file")
            requirements += _requirements_file(path)
        elif arg.startswith("--requirement="):
            requirements += _requirements_file(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            raise ValueError(f"the option {arg} is not available here: the service installs wheels from "
                             "its operator's index, into a layer of its own")
        else:
            requirements.append(arg)
    return requirements


def _channel():
    # "PID ANSWER_FD NONCE": the run's main process, the descriptor it reads
    # the service's answers on, and its frame nonce (the bootstrap's).
    value = os.environ.get("SANDBOX_PIP_CHANNEL", "")
    fields = value.split()
    if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
        return None
    return int(fields[0]), int(fields[1]), fields[2].encode("ascii", "replace")


def _ask(requirements):
    import json
    channel = _channel()
    if channel is None:
        return {"ok": False, "reason": "unavailable", "message":
                "pip install is not available inside this run (the service installs no packages, or runs "
                "programs with --isolation exec); name them in the run's packages instead, if the service "
                "offers packages (sandbox run --package NAME; the editor's Packages field; \"packages\": [\"NAME\"])"}
    pid, answer_fd, nonce = channel
    payload = json.dumps({"requirements": requirements}).encode("utf-8")
    frame = b"\0pysandbox:" + nonce + b":packages %d\n" % len(payload) + payload
    mine = os.getpid() == pid
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # In the run's main process its own descriptors; in a child (pip run by
    # subprocess or os.system), the same pipes opened again through /proc.
    try:
        out = 1 if mine else os.open(f"/proc/{pid}/fd/1", os.O_WRONLY | os.O_CLOEXEC)
        answers = answer_fd if mine else os.open(f"/proc/{pid}/fd/{answer_fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        return {"ok": False, "reason": "unavailable", "message": f"pip cannot reach the service from here ({error.strerror}); "
                "run pip from the program's own process, or name the packages with the run"}
    try:
        view = memoryview(frame)
        while view:
            view = view[os.write(out, view):]
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(answers, 1)
            if not chunk:
                return {"ok": False, "reason": "unavailable", "message": "the service closed the channel"}
            line += chunk
    finally:
        if not mine:
            os.close(out)
            os.close(answers)
    return json.loads(line)


def install(requirements):
    """Asks the service for `requirements`; True once they can be imported."""
    if not requirements:
        _say("ERROR: You must give at least one requirement to install (see \"pip help install\")", sys.stderr)
        return False
    _say("Installing " + ", ".join(requirements) + " through the service (outside the sandbox) ...")
    answer = _ask(requirements)
    if not answer.get("ok"):
        requirement = answer.get("requirement")
        reason = answer.get("reason", "refused")
        _say(f"ERROR: {answer.get('message', 'refused')} ({reason}" + (f": {requirement}" if requirement else "") + ")",
             sys.stderr)
        return False
    packages = " ".join(f"{item['name']}-{item['version']}" for item in answer.get("installed", []))
    import importlib
    importlib.invalidate_caches()
    _say("Successfully installed " + packages)
    return True


def _distributions():
    from importlib import metadata
    seen = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = distribution
    return sorted(seen.values(), key=lambda item: item.metadata["Name"].lower())


def main(args=None):
    """pip's command line; returns its exit status."""
    args = list(sys.argv[1:] if args is None else args)
    command = args.pop(0) if args else "help"
    if command in ("-V", "--version"):
        _say(f"pip (PySandbox: installs through the service) from {__file__}")
        return 0
    if command == "install":
        try:
            requirements = _install_arguments(args)
        except (ValueError, OSError) as error:
            _say(f"ERROR: {error}", sys.stderr)
            return 2
        return 0 if install(requirements) else 1
    if command in ("list", "freeze"):
        for distribution in _distributions():
            name, version = distribution.metadata["Name"], distribution.version
            _say(f"{name}=={version}" if command == "freeze" else f"{name:<32} {version}")
        return 0
    if command == "show":
        found = {item.metadata["Name"].lower(): item for item in _distributions()}
        status = 0
        for name in args:
            distribution = found.get(name.lower().replace("_", "-")) or found.get(name.lower())
            if distribution is None:
                _say(f"WARNING: Package(s) not found: {name}", sys.stderr)
                status = 1
                continue
            _say(f"Name: {distribution.metadata['Name']}\nVersion: {distribution.version}\n"
                 f"Summary: {distribution.metadata.get('Summary', '')}\nLocation: {distribution.locate_file('')}")
        return status
    if command in ("uninstall", "download", "wheel", "cache", "config", "index"):
        _say(f"ERROR: pip {command} is not available here: packages are read-only in this sandbox", sys.stderr)
        return 1
    _say(_USAGE, sys.stderr if command not in ("help", "-h", "--help") else sys.stdout)
    return 0 if command in ("help", "-h", "--help") else 2


def magic(line):
    """`%pip ...` or `!pip ...` in a notebook cell: pip's words, never an exception."""
    import shlex
    main(shlex.split(line))


# What pip's own entry points import (/usr/bin/pip: from pip._internal.cli.main import main).
def _entry_points():
    module = type(sys)
    for name in ("pip._internal", "pip._internal.cli", "pip._internal.cli.main"):
        sys.modules.setdefault(name, module(name))
    sys.modules["pip._internal.cli.main"].main = main
    sys.modules["pip._internal"].main = main


_entry_points()
