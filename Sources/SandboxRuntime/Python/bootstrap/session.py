"""A session, a part of the bootstrap (see sandbox_site.py and
SandboxSession.swift): cells read one by one from fd 3, each run in one
`__main__` and ended by an end frame on stdout and stderr.
"""
import builtins, os, sys

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

    assist_programs = {}

    def assist(source):
        # The editor's helper (assist.py) with this session's names; it
        # looks them up in a fork of its own, so no number is used up and
        # nothing of the session changes.
        program = assist_programs.get(source)
        if program is None:
            assist_programs.clear()
            program = assist_programs[source] = compile(source, "<assist>", "exec")
        try:
            exec(program, {"__name__": "pysandbox_assist", "__builtins__": builtins, "SESSION_NAMESPACE": main.__dict__})
        except BaseException:
            pass  # the service answers a helper that said nothing

    number = 0
    while True:
        source, files, (patterns, limit), kind = next_request()
        take_stdin()
        if kind == "assist":
            assist(source)
            _send_frame(b"end", b"0")
            _write_all(2, FRAME_MARKER + b"end 0\n")
            continue
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

