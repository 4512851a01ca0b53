import Foundation

/// The Python program the sandbox starts. Once the interpreter is loaded it
/// writes one NUL byte to stdout (the sandbox is ready), then waits for the
/// run request on fd 3, writes the files and `main.py` into the working
/// directory, and runs the code as `__main__` so that tracebacks read
/// `File "main.py", line N` and show none of its own frames.
///
/// Everything before the read happens ahead of demand (a warm sandbox), so it
/// imports nothing beyond what the interpreter itself loads. When the program
/// ends, it finishes as the interpreter would (threads joined, atexit
/// handlers run, stdout and stderr flushed) but skips tearing down its
/// modules: the sandbox is destroyed right after, and teardown took
/// milliseconds of every run.
enum Bootstrap {
    /// The bootstrap for an interpreter whose `site` directories are `sitePackages`.
    static func source(sitePackages: [String]) -> String {
        sitePrelude.replacingOccurrences(of: "SITE_PACKAGES", with: pythonList(sitePackages)) + body
    }

    /// The bootstrap of a fork server (`--isolation fork`): the same, except
    /// that between loading and waiting for the program it imports `preload`
    /// and then serves runs, each a fork of itself that goes on to the run
    /// part while the fork server waits for the next (sandbox/zygote/).
    static func forkServerSource(sitePackages: [String], preload: [String]) -> String {
        sitePrelude.replacingOccurrences(of: "SITE_PACKAGES", with: pythonList(sitePackages))
            + forkServerLoop.replacingOccurrences(of: "PRELOAD", with: pythonList(preload)) + body
    }

    /// A JSON array of strings is also a Python list literal (unless "/" is escaped).
    private static func pythonList(_ strings: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return (try? encoder.encode(strings)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// Runs in the fork server until a fork returns in a run. A module that
    /// fails to import ends the fork server with its traceback on stderr, the
    /// slot's log, which the service reports.
    private static let forkServerLoop = #"""
def warm_up():
    # What every run does first (write a file, compile, execute, print,
    # raise and catch), done once here: the state the interpreter makes
    # lazily on first use (caches, interned names, the compiler's) is then
    # the fork server's, shared by every run instead of built in each one:
    # a run of print(1) costs a third of the CPU time it would otherwise.
    with open(os.devnull, "w", encoding="utf-8") as sink:
        program = "import sys\nprint('warm', 1, 2.5, [None], file=SINK)\ntry:\n    1 / 0\nexcept ZeroDivisionError as error:\n    str(error)\n"
        exec(compile(program, "main.py", "exec"), {"__name__": "__warm_up__", "SINK": sink})

def serve_runs():
    import ctypes
    library = ctypes.PyDLL("/proc/self/fd/5")
    for name in PRELOAD:
        __import__(name)
    warm_up()
    # What is loaded now stays out of every run's garbage collections, whose
    # writes to these objects' headers would copy their pages into each run.
    import gc
    gc.freeze()
    if library.pysandbox_fork_server_ready() != 0:
        os._exit(1)
    python = ctypes.pythonapi
    while True:
        received = library.pysandbox_receive_run()
        if received <= 0:
            os._exit(0 if received == 0 else 1)
        python.PyOS_BeforeFork()
        pid = library.pysandbox_fork_run()
        if pid == 0:
            python.PyOS_AfterFork_Child()
            return
        python.PyOS_AfterFork_Parent()

serve_runs()
del serve_runs, warm_up

"""#

    /// What `site` would have done that programs notice: its directories on
    /// `sys.path`, and `exit`, `quit`, `help` and friends as builtins.
    private static let sitePrelude = #"""
import builtins, os, sys, _sitebuiltins
sys.path.extend(SITE_PACKAGES)
builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
builtins.help = _sitebuiltins._Helper()
builtins.copyright = _sitebuiltins._Printer("copyright", sys.copyright)
builtins.credits = _sitebuiltins._Printer("credits", "Thanks to CWI, CNRI, BeOpen, Zope Corporation, the Python Software Foundation and many others.")
builtins.license = _sitebuiltins._Printer("license", "See https://www.python.org/psf/license/")
del builtins, _sitebuiltins

"""#

    private static let body = #"""

def read_request():
    os.write(1, b"\0")
    chunks = []
    while chunk := os.read(3, 1 << 16):
        chunks.append(chunk)
    os.close(3)
    header, _, body = b"".join(chunks).partition(b"\n")
    parts, offset = [], 0
    for size in map(int, header.split()):
        parts.append(body[offset:offset + size])
        offset += size
    return parts[0], dict(zip((path.decode("utf-8") for path in parts[1::2]), parts[2::2]))

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

def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(1 << 63) <= code < (1 << 63) else 255
    print(code, file=sys.stderr)
    return 1

def finish(status):
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(status)

source, files = read_request()
place_files(files)
write_file("main.py", source)
code = source.decode("utf-8")
del read_request, place_files, write_file, files, source
try:
    run(code)
    status = 0
except SystemExit as exit:
    status = exit_status(exit.code)
finish(status)
"""#

    /// The request on fd 3: a header line with the byte length of each part,
    /// then the parts: the code, then each file's path and text. Plain lengths
    /// rather than JSON, so the bootstrap needs no `json` import.
    static func request(code: String, files: [String: String]) -> [UInt8] {
        let parts = [code] + files.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
        var body = Array((parts.map { String($0.utf8.count) }.joined(separator: " ") + "\n").utf8)
        for part in parts { body += part.utf8 }
        return body
    }
}
