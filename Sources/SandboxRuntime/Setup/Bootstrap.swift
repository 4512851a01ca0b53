import Foundation

/// The Python program the sandbox starts. Once the interpreter is loaded it
/// writes one NUL byte to stdout (the sandbox is ready), then waits for the
/// run request on fd 3, writes the files and `main.py` into the working
/// directory, and runs the code as `__main__` so that tracebacks read
/// `File "main.py", line N` and show none of its own frames. It gives the
/// program a `display()` builtin and an inline matplotlib backend, whose
/// results it writes to stdout as frames (`StdoutFrames`), and when the
/// program ends it sends back the files `returnFiles` asked for.
///
/// Everything before the read happens ahead of demand (a warm sandbox), so it
/// imports nothing beyond what the interpreter itself loads. When the program
/// ends, it finishes as the interpreter would (threads joined, atexit
/// handlers run, stdout and stderr flushed) but skips tearing down its
/// modules: the sandbox is destroyed right after, and teardown took
/// milliseconds of every run.
enum Bootstrap {
    /// The bootstrap for an interpreter whose `site` directories are
    /// `sitePackages`; `fontCache` is matplotlib's font list built at service
    /// start, if it is installed (`ScientificStack`).
    static func source(sitePackages: [String], fontCache: String?) -> String {
        prelude(sitePackages: sitePackages, fontCache: fontCache) + body
    }

    /// The bootstrap of a fork server (`--isolation fork`): the same, except
    /// that between loading and waiting for the program it imports `preload`
    /// and then serves runs, each a fork of itself that goes on to the run
    /// part while the fork server waits for the next (sandbox/zygote/).
    /// `setModules`: the modules of a package set the operator preloads
    /// (`--preload-packages`); one that fails to import is the run's to find.
    static func forkServerSource(sitePackages: [String], fontCache: String?, preload: [String], setModules: [String] = []) -> String {
        prelude(sitePackages: sitePackages, fontCache: fontCache)
            + forkServerLoop.replacingOccurrences(of: "SET_MODULES", with: pythonList(setModules))
                .replacingOccurrences(of: "PRELOAD", with: pythonList(preload)) + body
    }

    private static func prelude(sitePackages: [String], fontCache: String?) -> String {
        sitePrelude.replacingOccurrences(of: "SITE_PACKAGES", with: pythonList(sitePackages))
            .replacingOccurrences(of: "PACKAGE_LAYER", with: pythonList([PipShim.inside, PackageLayer.inside]))
            + orderedStreams
            + richResults.replacingOccurrences(of: "FONT_CACHE", with: pythonList(fontCache.map { [$0] } ?? []))
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

def warm_up_plots():
    # A first figure loads the backend, fonts and the PNG writer: done here,
    # a preloaded matplotlib draws in a run without that cost.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        import io
        pyplot.plot([1, 2])
        pyplot.savefig(io.BytesIO(), format="png")
        _figure_png(pyplot.gcf())
        pyplot.close("all")
        # Its fonts read their files through open descriptors, which a run
        # does not inherit (matplotlib drops them in each fork, and closing
        # them there would fail): closed here, each run opens what it draws with.
        get_font = getattr(sys.modules["matplotlib.font_manager"], "_get_font", None)
        if hasattr(get_font, "cache_clear"):
            get_font.cache_clear()
        import gc
        gc.collect()

def serve_runs():
    import ctypes
    library = ctypes.PyDLL("/proc/self/fd/5")
    import binascii, json  # display() needs them; small
    for name in PRELOAD:
        __import__(name)
    for name in SET_MODULES:
        try:
            __import__(name)
        except BaseException:
            pass
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        # random reseeds itself in each fork; numpy's global generator does not.
        os.register_at_fork(after_in_child=numpy_random.seed)
    warm_up()
    warm_up_plots()
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
del serve_runs, warm_up, warm_up_plots

"""#

    /// What `site` would have done that programs notice: its directories on
    /// `sys.path`, and `exit`, `quit`, `help` and friends as builtins.
    /// pip's stand-in comes first (`PipShim`), then the run's package set
    /// (`RunLimits.packageLayer`, or one `pip install` mounts later): a
    /// version it holds of a system package is the one asked for.
    private static let sitePrelude = #"""
import builtins, os, sys, _sitebuiltins
sys.path.extend([path for path in PACKAGE_LAYER if os.path.isdir(path)] + SITE_PACKAGES)
builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
builtins.help = _sitebuiltins._Helper()
builtins.copyright = _sitebuiltins._Printer("copyright", sys.copyright)
builtins.credits = _sitebuiltins._Printer("credits", "Thanks to CWI, CNRI, BeOpen, Zope Corporation, the Python Software Foundation and many others.")
builtins.license = _sitebuiltins._Printer("license", "See https://www.python.org/psf/license/")
del _sitebuiltins

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

"""#

    /// What a notebook gives a program: `display()`, which sends an
    /// object's rich representations (the IPython `_repr_*_` convention) as
    /// a frame on stdout, and matplotlib's `plt.show()` doing the same for
    /// each figure. A meta-path hook makes the inline backend module on
    /// demand and, before matplotlib's first import, links the font list
    /// built at service start into its (writable) config directory, so no
    /// run ever scans fonts.
    private static let richResults = #"""
FRAME_MARKER = None  # set for each run from its request
MAX_DISPLAY_BYTES = None  # likewise

def _send_frame(kind, payload):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    if FRAME_MARKER is None:
        return
    _write_all(1, FRAME_MARKER + kind + b" %d\n" % len(payload) + payload)

_MIME_METHODS = (("image/png", "_repr_png_"), ("image/jpeg", "_repr_jpeg_"), ("image/svg+xml", "_repr_svg_"),
                 ("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"), ("application/json", "_repr_json_"))
_MIME_TYPES = {"text/plain"}.union(mime for mime, _ in _MIME_METHODS)

def _figure_png(figure):
    # A figure unchanged since the program saved it as PNG is shown as saved
    # (the inline backend keeps that PNG); any other is drawn as it is, not
    # cropped to its contents (bbox_inches="tight", as notebooks do, draws it
    # twice: twice the time of the plot itself).
    saved = getattr(figure.canvas, "last_png", None)
    if saved is not None and not figure.stale:
        return saved
    import io
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

def _mime_bundle(value):
    data, metadata = {}, {}
    kind = type(value)
    figures = sys.modules.get("matplotlib.figure")
    if figures is not None and isinstance(value, figures.Figure):
        data["image/png"] = _figure_png(value)
    method = getattr(kind, "_repr_mimebundle_", None)
    if callable(method):
        try:
            bundle = method(value, include=None, exclude=None)
        except Exception as error:
            print(f"display: {kind.__name__}._repr_mimebundle_ failed: {error!r}", file=sys.stderr)
            bundle = None
        if isinstance(bundle, tuple) and len(bundle) == 2:
            bundle, extra = bundle
            metadata.update(extra or {})
        for mime, content in (bundle or {}).items():
            if mime in _MIME_TYPES and content is not None:
                data.setdefault(mime, content)
    for mime, name in _MIME_METHODS:
        method = getattr(kind, name, None)
        if mime in data or not callable(method):
            continue
        try:
            content = method(value)
        except NotImplementedError:
            continue
        except Exception as error:
            print(f"display: {kind.__name__}.{name} failed: {error!r}", file=sys.stderr)
            continue
        if isinstance(content, tuple) and len(content) == 2:
            content, extra = content
            if extra:
                metadata[mime] = extra
        if content is not None:
            data[mime] = content
    data.setdefault("text/plain", repr(value))
    return data, metadata

def _normalized(data):
    import binascii
    bundle = {}
    for mime, content in data.items():
        if mime not in _MIME_TYPES:
            continue
        if mime in ("image/png", "image/jpeg"):
            if isinstance(content, (bytes, bytearray, memoryview)):
                content = binascii.b2a_base64(content, newline=False).decode("ascii")
        elif mime != "application/json" and isinstance(content, (bytes, bytearray)):
            content = bytes(content).decode("utf-8", "replace")
        if mime == "application/json" or isinstance(content, str):
            bundle[mime] = content
    if not isinstance(bundle.get("text/plain"), str):
        bundle["text/plain"] = "<display: " + ", ".join(sorted(bundle)) + ">"
    return bundle

def display(*objects, raw=False, metadata=None):
    """Show each object as a rich result (an image, a table, HTML) where the
    client shows output, as IPython's display() does: from its _repr_png_,
    _repr_jpeg_, _repr_svg_, _repr_html_, _repr_markdown_, _repr_json_ or
    _repr_mimebundle_ methods, and repr() as text. With raw=True each
    object is a MIME bundle already: {"text/html": "<b>hi</b>"}."""
    import json
    for value in objects:
        if raw:
            data, extra = dict(value), {}
        else:
            data, extra = _mime_bundle(value)
        if metadata:
            extra.update(metadata)
        if _too_large_to_display(data):
            return
        frame = {"data": _normalized(data)}
        if extra:
            frame["metadata"] = extra
        try:
            payload = json.dumps(frame, allow_nan=False, default=repr)
        except (TypeError, ValueError):
            frame["data"].pop("application/json", None)
            frame.pop("metadata", None)
            payload = json.dumps(frame, allow_nan=False, default=repr)
        _send_frame(b"display", payload.encode("utf-8"))

def _too_large_to_display(data):
    # A display past the limit ends the run (outputLimit) however it is sent:
    # announced by its size alone, it costs no copies in base64 and JSON (a
    # 50 MB image would take the program 200 MB more to send whole).
    size = sum(len(content) * 4 // 3 if isinstance(content, (bytes, bytearray, memoryview)) else
               len(content) if isinstance(content, str) else 0 for content in data.values())
    if MAX_DISPLAY_BYTES is None or size <= MAX_DISPLAY_BYTES:
        return False
    _send_frame(b"display_too_large", b"%d" % size)
    return True

def _show_figures(*args, **kwargs):
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    from matplotlib._pylab_helpers import Gcf
    for manager in Gcf.get_all_fig_managers():
        display(manager.canvas.figure)
    pyplot.close("all")

class _RichResultImports:
    font_cache = FONT_CACHE

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "matplotlib" and cls.font_cache:
            cls.link_font_cache(cls.font_cache.pop())
        elif name == "pysandbox_inline":
            from importlib.machinery import ModuleSpec
            return ModuleSpec(name, cls)
        return None

    @staticmethod
    def link_font_cache(cache):
        config = os.environ.get("MPLCONFIGDIR")
        try:
            os.makedirs(config, exist_ok=True)
            for name in os.listdir(cache):
                os.symlink(os.path.join(cache, name), os.path.join(config, name))
        except (OSError, TypeError):
            pass  # matplotlib then builds its font list itself

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.backend_bases import FigureManagerBase

        class FigureCanvas(FigureCanvasAgg):
            # Agg, keeping the PNG of the figure's last savefig: a program that
            # saves its plot and ends is not drawn a second time for its display.
            last_png = None

            # The options print_figure gives every renderer (dpi, facecolor, ...)
            # are ignored, as Agg's own print_png does: print_figure applies them.
            def print_png(self, target, *, metadata=None, pil_kwargs=None, **ignored):
                import io
                buffer = io.BytesIO()
                super().print_png(buffer, metadata=metadata, pil_kwargs=pil_kwargs)
                self.last_png = buffer.getvalue()
                if isinstance(target, (str, bytes, os.PathLike)):
                    with open(target, "wb") as file:
                        file.write(self.last_png)
                else:
                    target.write(self.last_png)

            def print_figure(self, *args, **kwargs):
                self.last_png = None
                result = super().print_figure(*args, **kwargs)
                if self.last_png is not None:
                    # Saving restores the figure's settings, which marks it
                    # stale; it is as saved until something changes it.
                    self.figure.stale = False
                return result

        module.FigureCanvas = FigureCanvas
        module.FigureManager = FigureManagerBase
        module.show = _show_figures

builtins.display = display
sys.meta_path.insert(0, _RichResultImports)

"""#

    private static let body = [runStart, returnedFiles, sessionLoop, runEnd].joined(separator: "\n")

    /// The run part: the request read from fd 3, its files placed, its code run as `__main__`.
    private static let runStart = #"""

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
    nonce, max_display, max_return, pip, *patterns = parts[0].split(b"\0")
    global FRAME_MARKER, MAX_DISPLAY_BYTES
    FRAME_MARKER = b"\0pysandbox:" + nonce + b":"
    MAX_DISPLAY_BYTES = int(max_display)
    # pip's way to the service (PipShim), where the service answers it.
    if pip == b"1":
        os.environ["SANDBOX_PIP_CHANNEL"] = "%d %d %s" % (os.getpid(), answers, nonce.decode("ascii"))
    else:
        os.environ.pop("SANDBOX_PIP_CHANNEL", None)
    returns = ([pattern.decode("utf-8") for pattern in patterns], int(max_return))
    return parts[1], dict(zip((path.decode("utf-8") for path in parts[2::2]), parts[3::2])), returns

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

"""#

    /// How a run ends: threads joined, figures shown, atexit, returned files; then the program's status.
    private static let runEnd = #"""
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

MAX_RETURNED_FILES = 1000  # RunRequest.maxReturnedFiles
request = read_request()
if request is None:
    serve_session()
source, files, returns = request
workdir = os.getcwd()
place_files(files)
write_file("main.py", source)
code = source.decode("utf-8")
del read_request, place_files, write_file, files, source
try:
    run(code)
    status = 0
except SystemExit as exit:
    status = exit_status(exit.code)
finish(status, workdir, returns)
"""#

    /// The request on fd 3: a header line with the byte length of each part,
    /// then the parts: the run's settings (its frame nonce, the display and
    /// return limits, whether pip may ask the service, and the
    /// `returnFiles` patterns, NUL-separated), the code, then
    /// each file's path and content. Plain lengths rather than JSON, so the
    /// bootstrap needs no `json` import.
    static func request(_ request: RunRequest, frameMarker: [UInt8]) -> [UInt8] {
        let nonce = frameMarker.dropFirst(markerPrefix.count).dropLast()
        let settings = Array(nonce) + [0] + Array(String(request.limits.maxDisplayBytes).utf8)
            + [0] + Array(String(request.limits.maxReturnBytes).utf8) + [0] + [UInt8(ascii: request.answersPip ? "1" : "0")]
            + request.returnFiles.flatMap { [0] + Array($0.utf8) }
        let parts: [[UInt8]] = [settings, Array(request.code.utf8)]
            + request.files.sorted { $0.key < $1.key }.flatMap { [Array($0.key.utf8), $0.value] }
        var body = Array((parts.map { String($0.count) }.joined(separator: " ") + "\n").utf8)
        for part in parts { body += part }
        return body
    }

    private static let markerPrefix = Array("\0pysandbox:".utf8)

    /// A fresh frame marker for one run: `NUL pysandbox: nonce :`, the nonce
    /// 32 random hex digits.
    static func frameMarker() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<2).map { _ in generator.next() as UInt64 }.map { String($0, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
        return markerPrefix + Array(nonce.utf8) + [UInt8(ascii: ":")]
    }
}
