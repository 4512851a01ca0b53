/// The Python program the sandbox starts. It waits for the run request on
/// fd 3 (JSON: code and files), writes the files and `main.py` into the
/// working directory, and runs the code as `__main__` so that tracebacks read
/// `File "main.py", line N` and show none of its own frames.
///
/// Everything before the read can happen ahead of demand (a warm sandbox).
enum Bootstrap {
    static let source = #"""
import ctypes, json, os, sys, types

libc = ctypes.CDLL(None)
libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: exec made us dumpable again
libc.mallopt(-8, 2)  # M_ARENA_MAX 2: each thread's 64 MiB arena would exhaust RLIMIT_AS

def read_request():
    chunks = []
    while True:
        chunk = os.read(3, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(3)
    return json.loads(b"".join(chunks))

def place_files(files):
    for path, text in files.items():
        if path.startswith("/") or ".." in path.split("/"):
            raise SystemExit("pysandbox: refused file path " + repr(path))
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)

def run(code):
    main = types.ModuleType("__main__")
    main.__file__ = "main.py"
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = ["main.py"]
    sys.path.insert(0, os.getcwd())
    try:
        exec(compile(code, "main.py", "exec"), main.__dict__)
    except SystemExit:
        raise
    except BaseException as error:
        traceback = error.__traceback__
        while traceback is not None and traceback.tb_frame.f_code.co_filename != "main.py":
            traceback = traceback.tb_next
        sys.excepthook(type(error), error.with_traceback(traceback), traceback)
        raise SystemExit(1)

request = read_request()
place_files(request.get("files", {}))
with open("main.py", "w", encoding="utf-8") as file:
    file.write(request["code"])
del ctypes, libc, json, read_request, place_files, request["files"]
run(request.pop("code"))
"""#
}
