"""A session, a part of the bootstrap (see sandbox_site.py and
SandboxSession.swift): cells read one by one from fd 3, each run in one
`__main__` and ended by an end frame on stdout and stderr.

A session that rolls back keeps a snapshot: a fork of this interpreter
taken before each cell, named SNAPSHOT_NAME, that waits. When the cell
ends, it is killed; when the cell is rolled back (it died of a signal,
reached a limit, or would not stop), the session's pid 1 ends every other
process and the snapshot goes on as the session (sandbox/steps/rollback.c).
"""
import builtins, os, signal, sys

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
    # Whether the running cell may still take the service's interrupt: one
    # KeyboardInterrupt per cell, since the service repeats its SIGINT
    # until the cell ends (a cell's `except KeyboardInterrupt:` finishes).
    interruptible = [False]

    def interrupt(signum, frame):
        if interruptible[0]:
            interruptible[0] = False
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

    def read_body(fd, length):
        chunks, left = [], length
        try:
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks)

    def forget_buffered():
        # Rolled back: what was buffered when the snapshot was taken is the
        # rolled-back cell's, which the interpreter it copied took.
        nonlocal pending
        pending = b""
        for fd in descriptors:
            os.close(fd)
        descriptors.clear()

    def next_line():
        nonlocal pending
        receive(0)
        line, _, pending = pending.partition(b"\n")
        return line

    def next_request():
        nonlocal pending
        receive(0)
        length, _, pending = pending.partition(b"\n")
        # Each cell brings its request on a pipe of its own (a cell rolled
        # back while reading it leaves nothing on the channel), its stdin,
        # with end of file of its own, and the pipe pip's answers come on
        # (at fd 4, as a run's come on fd 3).
        stdin, answers, body = descriptors.pop(0), descriptors.pop(0), descriptors.pop(0)
        request = read_body(body, int(length))
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
            interruptible[0] = True
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
                interruptible[0] = False
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

    helper_programs = {}

    def run_helper(kind, source, files):
        # The service's helpers (assist.py, session_files.py,
        # session_state.py) with this session's names and folder. They use
        # up no cell number; assist.py and a state's capture look in a fork
        # of their own, so nothing of the session changes.
        program = helper_programs.get(source)
        if program is None:
            if len(helper_programs) > 8:
                helper_programs.clear()
            program = helper_programs[source] = compile(source, "<%s>" % kind, "exec")
        try:
            exec(program, {
                "__name__": "pysandbox_" + kind, "__builtins__": builtins, "SESSION_NAMESPACE": main.__dict__,
                "SESSION_WORKDIR": workdir, "SESSION_FILES": files,
            })
        except BaseException:
            pass  # the service answers a helper that said nothing

    gate = CellGate()
    snapshots = Snapshots(forget_buffered) if next_line() == b"rollback" else None
    if snapshots is not None:
        snapshots.take()

    number = 0
    while True:
        source, files, (patterns, limit), kind = next_request()
        gate.enter()
        take_stdin()
        if kind != "program":
            run_helper(kind, source.decode("utf-8"), files)
            gate.leave()
            _send_frame(b"end", b"0")
            _write_all(2, FRAME_MARKER + b"end 0\n")
            if kind == "restore" and snapshots is not None:
                snapshots.take()  # the copied state is what a failed run rolls back to
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
        gate.leave()
        # The cell's end, on both streams: the service takes everything
        # before these as the cell's output.
        _send_frame(b"end", b"%d" % status)
        _write_all(2, FRAME_MARKER + b"end 0\n")
        if snapshots is not None:
            snapshots.take()  # after the end: the verdict does not wait for the fork


class CellGate:
    """Between cells pid 1 keeps the session stopped: SIGSTOP to every
    process when the service says a cell has ended, SIGCONT when it says
    the next begins. Those words reach pid 1 by another way than the next
    request reaches this process, which may come first: a process forked
    then, while pid 1 stops and continues the session, could stay stopped
    (1 session cell in 100 that forked at once hung until its timeout). So
    a request waits for pid 1's word that the session has gone on:
    RESUMED_SIGNAL, one per cell, sent to this main thread alone (a thread
    a cell started has a mask of its own).

    SIGINT, the service's interrupt, is taken in cells only: one that comes
    late, between cells, waits blocked and is dropped when the next request
    comes, whatever handler a cell left. pid 1 sends it to this main thread
    too, or a thread a cell left could take it and trip Python's handler
    for the next cell.

    Both are blocked from the interpreter's start (fork_run.c) but during a
    request, where a program and its children see the usual mask. A
    snapshot, forked between cells, has them blocked too; once it goes on
    as the session, pid 1 sends it RESUMED_SIGNAL."""

    def __init__(self):
        self.signals = {RESUMED_SIGNAL, signal.SIGINT}
        signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def enter(self):
        # pid 1's (si_pid 0: the kernel lost the sender, the signal queue
        # being full), not one a process a cell left sent; a process that
        # forges the sender (rt_sigqueueinfo) only hurts its own session.
        while signal.sigwaitinfo({RESUMED_SIGNAL}).si_pid not in (0, 1):
            pass
        while signal.sigtimedwait({signal.SIGINT}, 0) is not None:
            pass  # an interrupt meant for a cell that has ended
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.signals)

    def leave(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)


SNAPSHOT_NAME = b"pysandbox-snap"  # sandbox_steps.h's, which finds it by this name
RESUMED_SIGNAL = signal.SIGURG  # sandbox_steps.h's SESSION_RESUMED_SIGNAL


class Snapshots:
    """The session's snapshot: a fork of the interpreter as it is before the
    next cell, waiting for pid 1's word. take() replaces the last one
    (killed: it holds nothing but memory). In the snapshot, take() returns
    once it has gone on as the session, after taking its own: when pid 1,
    having ended every other process, says so (SIGUSR2 from pid 1). It
    holds no descriptor of the session's: the program sees none more."""

    def __init__(self, on_takeover):
        self.current = None  # its pid
        self.discarded = []
        self.on_takeover = on_takeover
        self.name = _read_comm()  # the interpreter's, which a snapshot that goes on takes back

    def take(self):
        import signal
        while True:
            # The last snapshot goes first: two would hold two copies of what the cell changed.
            self.discard()
            pid = -1
            # Blocked before the fork: pid 1's word may come before the snapshot could wait for it.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
            try:
                _write_comm(SNAPSHOT_NAME)  # the fork is born with it: found even if stopped at once
                pid = os.fork()
            except OSError:
                # No snapshot (the session's process limit, say): the next
                # cell cannot be rolled back, and no older state stands in.
                return
            finally:
                if pid != 0:
                    _write_comm(self.name)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR2})
            if pid != 0:
                self.current = pid
                self.reap()
                return
            self.current, self.discarded = None, []
            while signal.sigwaitinfo({signal.SIGUSR2}).si_pid != 1:
                pass  # only pid 1's word counts: the program can send this signal too
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR2})
            _write_comm(self.name)
            self.on_takeover()
            # Rolled back: this is the session now; the loop takes its own snapshot.

    def discard(self):
        if self.current is not None:
            import signal
            try:
                os.kill(self.current, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.discarded.append(self.current)
            self.current = None

    def reap(self):
        for pid in list(self.discarded):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.discarded.remove(pid)


def _read_comm():
    try:
        with open("/proc/self/comm", "rb") as comm:
            return comm.read().rstrip(b"\n")
    except OSError:
        return b"python3"


def _write_comm(name):
    try:
        with open("/proc/self/comm", "wb") as comm:
            comm.write(name)
    except OSError:
        pass
