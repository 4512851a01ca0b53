"""The bootstrap's parts for tests: their definitions executed into one
namespace (what a part does when the sandbox starts is under
`if __name__ == "__main__":`, so it does not happen here), and the whole
program, joined as Bootstrap.swift joins it.

Run the tests with /usr/bin/python3 -m unittest discover -s THIS_FOLDER
(SandboxRuntimeUnitTests does, with PYSANDBOX_BOOTSTRAP naming a file that
holds the program Bootstrap.swift assembled).
"""
import builtins
import os
import pathlib

PYTHON = pathlib.Path(__file__).resolve().parent.parent
BOOTSTRAP = PYTHON / "bootstrap"

# Bootstrap.swift's order: startParts, then fork_server.py for a fork server, then runParts.
START_PARTS = ["sandbox_site.py", "ordered_streams.py", "rich_results.py"]
RUN_PARTS = ["run.py", "returned_files.py", "session.py", "start_run.py"]
ALL_PARTS = START_PARTS + ["fork_server.py"] + RUN_PARTS


def source(name):
    return (BOOTSTRAP / name).read_text(encoding="utf-8")


def assemble(fork_server=False):
    """The program the sandbox runs, as one `-c` source."""
    parts = START_PARTS + (["fork_server.py"] if fork_server else []) + RUN_PARTS
    return "\n".join(source(name) for name in parts)


def program():
    """The program Bootstrap.swift assembled, when the Swift test names it;
    else this folder's own assembly."""
    path = os.environ.get("PYSANDBOX_BOOTSTRAP")
    if path:
        with open(path, encoding="utf-8") as file:
            return file.read()
    return assemble()


def load(*names, **values):
    """The definitions of the named parts (all by default), in one namespace
    as in the bootstrap; `values` are set in it first (names a part reads
    when it is executed; a part's own assignments come after)."""
    namespace = {"__name__": "pysandbox_bootstrap", "__builtins__": builtins}
    namespace.update(values)
    for name in names or ALL_PARTS:
        exec(compile(source(name), str(BOOTSTRAP / name), "exec"), namespace)
    return namespace


def settings_arguments(site_packages=(), package_layer=(), font_cache=None, preload=(), set_modules=()):
    """The arguments after the source, as Bootstrap.settings writes them."""
    arguments = []
    for path in package_layer:
        arguments += ["package-layer", path]
    for path in site_packages:
        arguments += ["site-packages", path]
    if font_cache is not None:
        arguments += ["font-cache", font_cache]
    for name in preload:
        arguments += ["preload", name]
    for name in set_modules:
        arguments += ["set-module", name]
    return arguments


def request(code, files=None, nonce=b"0123456789abcdef0123456789abcdef", max_display=1 << 20, max_return=1 << 20,
            pip=False, return_files=(), kind=b"program"):
    """A run's request on fd 3, as Bootstrap.request builds it."""
    settings = b"\0".join([nonce, b"%d" % max_display, b"%d" % max_return, b"1" if pip else b"0", kind]
                          + [pattern.encode("utf-8") for pattern in return_files])
    parts = [settings, code.encode("utf-8")]
    for path, content in sorted((files or {}).items()):
        parts += [path.encode("utf-8"), content]
    return b" ".join(b"%d" % len(part) for part in parts) + b"\n" + b"".join(parts)


def marker(nonce=b"0123456789abcdef0123456789abcdef"):
    return b"\0pysandbox:" + nonce + b":"


def frames(output, nonce=b"0123456789abcdef0123456789abcdef"):
    """stdout cut into ("text", bytes) and (kind, payload) pieces, as StdoutFrames.swift reads it."""
    prefix = marker(nonce)
    pieces, rest = [], output
    while rest:
        index = rest.find(prefix)
        if index == -1:
            pieces.append(("text", rest))
            break
        if index:
            pieces.append(("text", rest[:index]))
        header, _, rest = rest[index + len(prefix):].partition(b"\n")
        kind, _, size = header.partition(b" ")
        pieces.append((kind.decode("ascii"), rest[:int(size)]))
        rest = rest[int(size):]
    return pieces


def resume_cell(pid):
    """What the sandbox's pid 1 sends a session's interpreter once it has let
    the session go on for a cell (session.py's CellGate waits for it):
    SIGURG from pid 1, whose sender a test outside the sandbox can only
    state (rt_sigqueueinfo, si_code SI_QUEUE)."""
    import ctypes
    import signal
    import struct
    info = ctypes.create_string_buffer(128)
    struct.pack_into("iii", info, 0, signal.SIGURG, 0, -1)  # si_signo, si_errno, si_code
    struct.pack_into("ii", info, 16, 1, 0)  # si_pid, si_uid
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(129, pid, signal.SIGURG, info) != 0:  # rt_sigqueueinfo (x86_64)
        raise OSError(ctypes.get_errno(), "rt_sigqueueinfo")
