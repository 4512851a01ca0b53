import Foundation

/// The bootstrap's parts for returned files and sessions (see `Bootstrap`).
extension Bootstrap {
    /// `returnFiles`: the workdir walked without following links, matches read with O_NOFOLLOW,
    /// sent back as a `files` frame.
    static let returnedFiles = #"""
def pattern_regex(pattern):
    # Glob syntax as the shell has it: * ? [...] within a name, ** for any
    # number of directories; wildcards do not match a leading dot.
    import re
    regex, segments = [], pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex.append(r"(?:(?!\.)[^/]*(?:/(?!\.)[^/]*)*)?" if last else r"(?:(?!\.)[^/]*/)*")
            continue
        part, i = ("" if segment.startswith(".") else r"(?!\.)"), 0
        while i < len(segment):
            char, end = segment[i], segment.find("]", i + 2)
            if char == "*":
                part += "[^/]*"
            elif char == "?":
                part += "[^/]"
            elif char == "[" and end != -1:
                body = segment[i + 1:end]
                # A negated set never matches "/": it is within one name.
                negated = body[:1] in ("!", "^")
                part += "[" + ("^/" + body[1:] if negated else body).replace("\\", "\\\\") + "]"
                i = end
            else:
                part += re.escape(char)
            i += 1
        regex.append(part if last else part + "/")
    return re.compile("".join(regex) + r"\Z")

def workdir_entries():
    # Everything but directories, without following any link: a link (to a
    # file or a directory) is an entry of its own and never walked through.
    entries = []
    for root, directories, names in os.walk(".", followlinks=False):
        links = [name for name in directories if os.path.islink(os.path.join(root, name))]
        entries += (os.path.normpath(os.path.join(root, name)) for name in names + links)
    return sorted(entries)

def read_regular_file(path, budget):
    # O_NOFOLLOW and fstat: a file swapped for a link or a FIFO since the
    # walk (by a process of the run still alive) is refused, not followed.
    import stat
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size <= budget and (chunk := os.read(fd, min(1 << 20, budget - size + 1))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)

def return_files(workdir, patterns, limit):
    import binascii, json, stat
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = workdir
    os.chdir(workdir)
    try:
        collect_files(patterns, limit)
    finally:
        try:
            os.chdir(cwd)
        except OSError:
            pass

def collect_files(patterns, limit):
    import binascii, json, stat
    entries = workdir_entries()
    files, omitted, total, seen = [], [], 0, set()
    for pattern in patterns:
        regex = pattern_regex(pattern)
        matches = [path for path in entries if regex.match(path)]
        if not matches:
            omitted.append({"path": pattern, "reason": "noMatch"})
        for path in matches:
            if path in seen:
                continue
            seen.add(path)
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                # Bytes that are not UTF-8 (walked as surrogates) cannot travel
                # in JSON: listed, escaped, and the other files still come back.
                omitted.append({"path": os.fsencode(path).decode("utf-8", "backslashreplace"), "reason": "nameNotUTF8"})
                continue
            try:
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    reason = "symlink"
                elif not stat.S_ISREG(info.st_mode):
                    reason = "notRegularFile"
                elif total + info.st_size > limit or len(files) >= MAX_RETURNED_FILES:
                    reason = "overLimit"
                else:
                    content = read_regular_file(path, limit - total)
                    reason = "notRegularFile" if content is None else "overLimit" if total + len(content) > limit else None
            except OSError:
                reason = "unreadable"
            if reason:
                omitted.append({"path": path, "reason": reason})
                continue
            total += len(content)
            files.append({"path": path, "base64": binascii.b2a_base64(content, newline=False).decode("ascii")})
    # The service keeps at most MAX_RETURNED_FILES of each list.
    _send_frame(b"files", json.dumps({"files": files, "omitted": omitted[:MAX_RETURNED_FILES]}).encode("utf-8"))

"""#

    /// A session (`SandboxSession`): cells read one by one from fd 3, each run in one `__main__`
    /// and ended by an end frame on stdout and stderr.
    static let sessionLoop = #"""
def serve_session():
    # A session: cells arrive one by one on fd 3, a unix socket, each as
    # "length\n" and a request as a run's, with its own stdin descriptor
    # attached; each runs in one __main__ that lives as long as the session.
    # Between cells pid 1 keeps the session stopped; this never returns.
    import ast, linecache, signal, socket
    channel = socket.socket(fileno=3)
    pending, descriptors = b"", []
    main = type(sys)("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = [""]
    workdir = os.getcwd()
    sys.path.insert(0, workdir)
    in_cell = [False]

    def interrupt(signum, frame):
        # The service's interrupt; one that comes between cells is late and ignored.
        if in_cell[0]:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)

    def receive(count):
        nonlocal pending
        while len(pending) < count or (count == 0 and b"\n" not in pending):
            data, fds, _, _ = socket.recv_fds(channel, 1 << 16, 4)
            if not data:
                os._exit(0)  # the service closed the session
            pending += data
            descriptors.extend(fds)

    def next_request():
        nonlocal pending
        receive(0)
        length, _, pending = pending.partition(b"\n")
        receive(int(length))
        request, pending = pending[:int(length)], pending[int(length):]
        # Each cell brings its stdin, with end of file of its own, and the
        # pipe pip's answers come on (at fd 4, as a run's come on fd 3).
        stdin, answers = descriptors.pop(0), descriptors.pop(0)
        os.dup2(stdin, 0)
        os.close(stdin)
        if answers != 4:
            os.dup2(answers, 4, inheritable=False)
            os.close(answers)
        return parse_request(request, 4)

    def take_stdin():
        sys.stdin = sys.__stdin__ = _stdin()

    def run_cell(code, filename):
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        if "pip" in code:
            code = pip_magics(code)
        try:
            in_cell[0] = True
            try:
                tree = compile(code, filename, "exec", ast.PyCF_ONLY_AST)
                last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                exec(compile(tree, filename, "exec"), main.__dict__)
                if last is not None:
                    # As a notebook shows a cell's last value: displayed, and kept as _.
                    value = eval(compile(ast.Expression(last.value), filename, "eval"), main.__dict__)
                    if value is not None:
                        builtins._ = value
                        display(value)
            finally:
                in_cell[0] = False
            return 0
        except SystemExit as exit:
            return exit_status(exit.code)
        except BaseException as error:
            traceback = error.__traceback__
            while traceback is not None and traceback.tb_frame.f_code.co_filename == "<string>":
                traceback = traceback.tb_next
            # Nor the interrupt handler's, where the service's KeyboardInterrupt is raised.
            frame = traceback
            while frame is not None and frame.tb_next is not None:
                if frame.tb_next.tb_frame.f_code is interrupt.__code__:
                    frame.tb_next = None
                frame = frame.tb_next
            try:
                if sys.excepthook is sys.__excepthook__:
                    # The traceback module reads a cell's lines from linecache;
                    # the interpreter's own printer looks for a file of that name.
                    import traceback as tracebacks
                    tracebacks.print_exception(type(error), error, traceback)
                else:
                    sys.excepthook(type(error), error.with_traceback(traceback), traceback)
                _missing_module_hint(error)
            except BaseException:
                pass
            return 1

    number = 0
    while True:
        source, files, (patterns, limit) = next_request()
        take_stdin()
        number += 1
        try:
            os.chdir(workdir)  # files are relative to the working directory, wherever a cell went
            place_files(files)
            status = run_cell(source.decode("utf-8"), "<cell %d>" % number)
        except SystemExit as refused:
            status = exit_status(refused.code)
        try:
            show_open_figures()
            if patterns:
                return_files(workdir, patterns, limit)
        except BaseException:
            pass
        # The cell's end, on both streams: the service takes everything
        # before these as the cell's output.
        _send_frame(b"end", b"%d" % status)
        _write_all(2, FRAME_MARKER + b"end 0\n")

"""#
}
