"""The run part of the bootstrap (see sandbox_site.py): the request read
from fd 3, its files placed, its code run as `__main__`, so that
tracebacks read `File "main.py", line N` and show none of the bootstrap's
frames; and how a run ends: threads joined, figures shown, atexit,
returned files, then the program's status. When the program ends, it
finishes as the interpreter would (threads joined, atexit handlers run,
stdout and stderr flushed) but skips tearing down its modules: the
sandbox is destroyed right after, and teardown took milliseconds of every
run.
"""
import os, sys

def read_request():
    # A run's request on fd 3, as long as its header line says; or a
    # session's first line. fd 3 stays open: pip's answers come on it.
    os.write(1, b"\0")
    # The first line alone: a session's first cell may follow it at once,
    # with its stdin descriptor, which only serve_session receives.
    data = os.read(3, 8)
    if data == b"session\n":
        return None
    while b"\n" not in data and (chunk := os.read(3, 1 << 16)):
        data += chunk
    header, _, body = data.partition(b"\n")
    size = sum(map(int, header.split()))
    chunks = [body]
    while size > len(body) and (chunk := os.read(3, min(size - len(body), 1 << 20))):
        chunks.append(chunk)
        size -= len(chunk)
    os.set_inheritable(3, False)
    return parse_request(header + b"\n" + b"".join(chunks), 3)

def parse_request(request, answers):
    header, _, body = request.partition(b"\n")
    parts, offset = [], 0
    for size in map(int, header.split()):
        parts.append(body[offset:offset + size])
        offset += size
    nonce, max_display, max_return, pip, kind, *patterns = parts[0].split(b"\0")
    global FRAME_MARKER, MAX_DISPLAY_BYTES
    FRAME_MARKER = b"\0pysandbox:" + nonce + b":"
    MAX_DISPLAY_BYTES = int(max_display)
    # pip's way to the service (PipShim), where the service answers it.
    if pip == b"1":
        os.environ["SANDBOX_PIP_CHANNEL"] = "%d %d %s" % (os.getpid(), answers, nonce.decode("ascii"))
    else:
        os.environ.pop("SANDBOX_PIP_CHANNEL", None)
    returns = ([pattern.decode("utf-8") for pattern in patterns], int(max_return))
    files = dict(zip((path.decode("utf-8") for path in parts[2::2]), parts[3::2]))
    # A program to run, or (in a session) "assist": the editor's helper, assist.py.
    return parts[1], files, returns, kind.decode("ascii")

# Files are written as the UTF-8 bytes that arrived, through os.open: a
# text file object costs a run several times as much to set up.
def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)

def place_files(files):
    for path, data in files.items():
        if path.startswith("/") or ".." in path.split("/"):
            raise SystemExit("pysandbox: refused file path " + repr(path))
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        write_file(path, data)

def run(code):
    main = type(sys)("__main__")
    main.__file__ = "main.py"
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = ["main.py"]
    sys.path.insert(0, os.getcwd())
    if "pip" in code:
        code = pip_magics(code)
    try:
        exec(compile(code, "main.py", "exec"), main.__dict__)
    except SystemExit:
        raise
    except BaseException as error:
        traceback = error.__traceback__
        while traceback is not None and traceback.tb_frame.f_code.co_filename != "main.py":
            traceback = traceback.tb_next
        sys.excepthook(type(error), error.with_traceback(traceback), traceback)
        _missing_module_hint(error)
        raise SystemExit(1)

def pip_magics(code):
    # A notebook's "%pip install X" (or "!pip ..."), line for line: pip's
    # stand-in asks the service, and the rest of the code can import X.
    lines = code.split("\n")
    for number, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped[:4] in ("%pip", "!pip") and stripped[4:5] in ("", " ", "3"):
            words = stripped[5:] if stripped[4:5] == "3" else stripped[4:]
            lines[number] = line[:len(line) - len(stripped)] + "__import__('pip').magic(%r)" % words
    return "\n".join(lines)

def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(1 << 63) <= code < (1 << 63) else 255
    print(code, file=sys.stderr)
    return 1

def show_open_figures():
    # As a notebook does at the end of a cell; before atexit, where
    # matplotlib destroys its figures.
    try:
        _show_figures()
    except BaseException:
        sys.excepthook(*sys.exc_info())

def finish(status, workdir, returns):
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        show_open_figures()
        import atexit
        atexit._run_exitfuncs()
        patterns, limit = returns
        if patterns:
            return_files(workdir, patterns, limit)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(status)
