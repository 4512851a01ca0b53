"""The program's standard streams as a terminal shows them (a part of the
bootstrap: see sandbox_site.py).

stdout and stderr are two pipes, and no reader can tell the order in which
two pipes were written; so what Python writes to `sys.stderr` rides on
stdout as `stderr` frames (StdoutFrames.swift), in one pipe with the
program's stdout, in the order it was written. Each frame is one write of
at most PIPE_BUF bytes, which the kernel never interleaves with another
thread's or process's write, so no frame is ever cut. fd 2 stays the
stderr pipe: child processes and C code that write to it directly arrive
in the order the service reads them.

`sys.stdin` tells the service when the program blocks reading with nothing
to read (a `stdin_wanted` frame), so that a client can put its user's
focus on the input line.
"""
import io, os, sys

_PIPE_BUF = 4096
# What one frame may carry: PIPE_BUF less the marker (44 bytes) and its header.
_STDERR_ROOM = _PIPE_BUF - 44 - len(b"stderr 4096\n")

def _write_all(fd, data):
    data = memoryview(data)
    while data:
        data = data[os.write(fd, data):]

class _StderrFrames(io.RawIOBase):
    """sys.stderr's bytes, as stderr frames on stdout."""

    def writable(self):
        return True

    def fileno(self):
        return 2

    def write(self, data):
        if FRAME_MARKER is None:
            # Before a run (a fork server's own errors): its log.
            _write_all(2, data)
            return len(data)
        if len(data) <= _STDERR_ROOM:
            # Most writes: one frame, formatted in one step (a third of the time of the general way).
            frame = b"%sstderr %d\n%s" % (FRAME_MARKER, len(data), data)
            written = os.write(1, frame)
            if written < len(frame):
                _write_all(1, frame[written:])
            return len(data)
        data = bytes(data)
        start = 0
        while start < len(data):
            end = min(start + _STDERR_ROOM, len(data))
            # Whole characters in each frame: back off from a continuation byte.
            while end < len(data) and end > start + 1 and data[end] & 0xC0 == 0x80:
                end -= 1
            chunk = data[start:end]
            _write_all(1, FRAME_MARKER + b"stderr %d\n" % len(chunk) + chunk)
            start = end
        return len(data)

class _Stdin(io.RawIOBase):
    """fd 0, announcing a read that would block."""

    def readable(self):
        return True

    def fileno(self):
        return 0

    def readinto(self, buffer):
        if FRAME_MARKER is not None:
            import select
            if not select.select([0], [], [], 0)[0]:
                _write_all(1, FRAME_MARKER + b"stdin_wanted 0\n")
        return os.readv(0, [buffer])

def _ordered_stderr():
    return io.TextIOWrapper(_StderrFrames(), encoding="utf-8", errors="backslashreplace",
                            line_buffering=False, write_through=True)

def _stdin():
    return io.TextIOWrapper(io.BufferedReader(_Stdin()), encoding="utf-8", errors="surrogateescape")

_NO_NETWORK = "this sandbox has no network: a program here cannot reach the internet or any other host"

class _NoNetworkWords:
    """When `socket` is first imported (13 ms, so not before), makes its
    failures say that the sandbox has no network: name lookups and
    sockets of network families fail, and their errors alone would read
    like a passing fault ("Temporary failure in name resolution")."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "socket":
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module
            def exec_module(module):
                load(module)
                cls.explain(module)
            spec.loader.exec_module = exec_module
        return spec

    @staticmethod
    def explain(socket):
        def explained(call, error_type):
            def attempt(*args, **kwargs):
                try:
                    return call(*args, **kwargs)
                except error_type as error:
                    if error.errno is None or _NO_NETWORK in str(error):
                        raise
                    raise type(error)(error.errno, f"{error.strerror} ({_NO_NETWORK})") from None
            attempt.__name__, attempt.__qualname__, attempt.__doc__ = call.__name__, call.__qualname__, call.__doc__
            return attempt
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
            setattr(socket, name, explained(getattr(socket, name), OSError))
        # A socket of a network family is refused (EPERM) when it is made.
        socket.socket.__init__ = explained(socket.socket.__init__, PermissionError)


if __name__ == "__main__":
    sys.stderr = sys.__stderr__ = _ordered_stderr()
    sys.stdin = sys.__stdin__ = _stdin()
    sys.meta_path.insert(0, _NoNetworkWords)
