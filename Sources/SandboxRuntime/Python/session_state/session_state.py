"""`session/fork`'s helper (PROTOCOL.md §4.15): a session's state, its
`__main__` names and its working folder, pickled in the original
("capture") and loaded in the copy ("restore").

It reads one request, JSON on stdin ({"method": "capture", "maxBytes"} or
{"method": "restore"}, the state then in SESSION_FILES["state"]), and
writes one JSON answer on stdout: {"ok": {...}} or {"error": {"reason",
"message"}}. session.py executes it in the session's own process with
SESSION_NAMESPACE, SESSION_WORKDIR and SESSION_FILES.

A capture pickles in a fork of the session's interpreter that ends with
the answer: pickling runs the program's own __reduce__ and __getstate__,
which may loop, print or change things, and none of that may reach the
session. A restore is meant to change its session, so it loads in place.

The state is a plain pickle (dicts, lists, str, bytes, ints: loaded
without finding a single class) that holds the names as a pickle of their
own: made with pickle when it takes them all (functions of the session by
value), else with dill when it imports (classes of the session too). The
names are loaded after the files are placed, so that a class from a
module of the working folder is found.
"""
import io
import os
import sys

VERSION = 1
# How long a capture's fork may take; the service's own timeout is longer.
CAPTURE_SECONDS = 5.0
OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TooLarge(Exception):
    pass


def describe(error):
    try:
        text = "%s: %s" % (type(error).__name__, error)
    except Exception:
        text = type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def shown(path):
    """A path as the state keeps it: str when UTF-8, else its bytes."""
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        return path


def readable(path):
    """A bytes path for a message: bytes that are not UTF-8 as \\xNN."""
    return path.decode("utf-8", "backslashreplace")


# Capture


class Limited:
    """A pickle's file that refuses to grow beyond `limit` bytes: a state
    too large stops as soon as it is, not once it is all in memory."""

    def __init__(self, limit):
        self.chunks, self.size, self.limit = [], 0, limit

    def write(self, data):
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge()
        self.chunks.append(bytes(data))
        return len(data)

    def value(self):
        return b"".join(self.chunks)


def walk_folder(fd, prefix, found, budget):
    """The folder's tree into `found` ("files", "notCopied", "bytes"),
    through descriptors, never following a link."""
    import stat
    with os.scandir(fd) as entries:
        names = sorted(os.fsencode(entry.name) for entry in entries)
    for name in names:
        path = prefix + name
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                found["files"].append({"path": shown(path), "type": "symlink",
                                       "target": shown(os.readlink(name, dir_fd=fd))})
            elif stat.S_ISDIR(info.st_mode):
                child = os.open(name, OPEN_FOLDER, dir_fd=fd)
                try:
                    found["files"].append({"path": shown(path), "type": "directory",
                                           "mode": stat.S_IMODE(info.st_mode)})
                    walk_folder(child, path + b"/", found, budget)
                finally:
                    os.close(child)
            elif stat.S_ISREG(info.st_mode):
                data = read_regular(fd, name, budget - found["bytes"])
                if data is None:
                    found["notCopied"].append({"name": "file " + readable(path), "reason": "not a regular file"})
                    continue
                found["bytes"] += len(data)
                found["files"].append({"path": shown(path), "type": "file", "mode": stat.S_IMODE(info.st_mode),
                                       "data": data})
            else:
                found["notCopied"].append({"name": "file " + readable(path), "reason": "not a regular file"})
        except OSError as error:
            found["notCopied"].append({"name": "file " + readable(path), "reason": error.strerror or describe(error)})


def read_regular(dir_fd, name, budget):
    """The file's bytes, or None if it is not a regular file by now;
    TooLarge beyond `budget` (read no further than that)."""
    import stat
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > budget:
            raise TooLarge()
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, budget + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > budget:
                raise TooLarge()
        return b"".join(chunks)
    finally:
        os.close(fd)


OPEN_FILES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.BufferedRWPair, io.TextIOWrapper)
# The module a state names to make the session's functions again: it exists
# only while a capture pickles, and a restore's loader answers for it.
FUNCTIONS_MODULE = "_session_state_functions"


def refuse_open_file(value):
    """Neither serializer copies an open file: dill would open it again by
    name when loading (emptying one opened for writing, waiting on a FIFO)."""
    if isinstance(value, OPEN_FILES):
        raise TypeError("cannot pickle '%s.%s' object" % (type(value).__module__, type(value).__qualname__))


def pickle_dumps(namespace):
    """dumps(value, limit) with pickle, the session's functions by value:
    their code marshalled, their globals the copy's namespace. A class of
    the session, or anything else pickle would name as one of __main__'s
    (the copy has none of them while it loads), fails: dill copies those.
    No dill import (35-47 ms) for the usual state: data, functions, modules."""
    import marshal
    import pickle
    import types

    def reduce_function(function):
        if function.__globals__ is not namespace:
            raise pickle.PicklingError("%s has globals other than the session's" % function.__qualname__)
        closure = function.__closure__
        if closure is not None:
            closure = tuple(cell_contents(cell) for cell in closure)
        return make_function, (marshal.dumps(function.__code__), function.__name__, function.__qualname__,
                               function.__defaults__, function.__kwdefaults__, closure, function.__doc__,
                               function.__annotations__, function.__dict__)

    class Pickler(pickle.Pickler):
        def reducer_override(self, value):
            refuse_open_file(value)
            if getattr(value, "__module__", None) == "__main__":
                if type(value) is types.FunctionType:
                    return reduce_function(value)
                if isinstance(value, type):
                    raise pickle.PicklingError("%s is defined in the session: only dill copies it"
                                               % value.__qualname__)
            return NotImplemented

    def make_function(*arguments):
        raise AssertionError("a restore's loader makes the functions")
    make_function.__module__, make_function.__qualname__ = FUNCTIONS_MODULE, "function"

    def dumps(value, limit):
        file = Limited(limit)
        stand_in = type(sys)(FUNCTIONS_MODULE)
        stand_in.function = make_function
        saved = sys.modules.get("__main__"), sys.modules.get(FUNCTIONS_MODULE)
        # An empty __main__: what pickle would name as __main__.X fails here.
        sys.modules["__main__"], sys.modules[FUNCTIONS_MODULE] = type(sys)("__main__"), stand_in
        try:
            Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        finally:
            for name, module in zip(("__main__", FUNCTIONS_MODULE), saved):
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
        return file.value()
    return dumps


def cell_contents(cell):
    """A closure's cell as make_function's arguments for a new one: (value,) or () if empty."""
    try:
        return (cell.cell_contents,)
    except ValueError:
        return ()


def dill_dumps():
    """dumps(value, limit) with dill, or None when it does not import."""
    try:
        import dill
    except Exception:
        return None
    main = sys.modules.get("__main__")

    def refused(value):
        refuse_open_file(value)
        return NotImplemented

    def dumps(value, limit):
        file = Limited(limit)
        # Not a subclass: dill tells its own picklers by their module.
        pickler = dill.Pickler(file)
        pickler.reducer_override = refused
        # dill took __main__ when it was first imported; the session's is
        # the one now, whose dict a function's globals are (pickled by name).
        pickler._main = main
        pickler.dump(value)
        return file.value()
    return dumps


def split_namespace(namespace):
    """(names, modules): the program's names (not __dunder__ ones), modules
    apart, to be imported again rather than pickled."""
    names, modules = {}, []
    module_type = type(sys)
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, module_type) and isinstance(getattr(value, "__name__", None), str):
            modules.append({"name": name, "module": value.__name__})
        else:
            names[name] = value
    return names, modules


def pickle_names(names, namespace, limit, not_copied):
    """(serializer, pickle, count): all names in one pickle, so that what
    two names share stays shared; with pickle when it can, else with dill;
    if that fails too, each alone, to leave out the ones that fail alone."""
    kind, dumps = "pickle", pickle_dumps(namespace)
    pickled = dumps_or_none(dumps, names, limit)
    if pickled is None:
        with_dill = dill_dumps()  # imported only now: pickle could not take them all
        if with_dill is not None:
            kind, dumps = "dill", with_dill
            pickled = dumps_or_none(dumps, names, limit)
    if pickled is not None:
        return kind, pickled, len(names)
    kept = {}
    for name, value in names.items():
        try:
            dumps(value, limit)
            kept[name] = value
        except TooLarge:
            raise
        except BaseException as error:
            not_copied.append({"name": name, "reason": describe(error)})
    return kind, dumps(kept, limit), len(kept)


def dumps_or_none(dumps, value, limit):
    """dumps(value, limit), or None if it fails; TooLarge goes on up."""
    try:
        return dumps(value, limit)
    except TooLarge:
        raise
    except BaseException:
        return None


def capture(namespace, workdir, max_bytes):
    """The session's state, as the answer's dict."""
    import binascii
    import pickle
    found = {"files": [], "notCopied": [], "bytes": 0}
    too_large = {"error": {"reason": "tooLarge", "message": "the session's state is more than %d bytes" % max_bytes,
                           "limit": max_bytes}}
    try:
        root = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            walk_folder(root, b"", found, max_bytes)
        finally:
            os.close(root)
        names, modules = split_namespace(namespace)
        kind, pickled, count = pickle_names(names, namespace, max_bytes - found["bytes"], found["notCopied"])
        state = pickle.dumps({"version": VERSION, "serializer": kind, "names": pickled, "modules": modules,
                              "files": found["files"], "notCopied": found["notCopied"]})
    except TooLarge:
        return too_large
    except BaseException as error:
        return {"error": {"reason": "failed", "message": "the state could not be pickled: " + describe(error)}}
    if len(state) > max_bytes:
        return too_large
    return {"ok": {"state": binascii.b2a_base64(state, newline=False).decode("ascii"), "bytes": len(state),
                   "names": count + len(modules), "files": len(found["files"]),
                   "serializer": kind, "notCopied": found["notCopied"]}}


def silenced():
    """fd 1 and 2 to /dev/null, and a copy of fd 1 for the answer: what an
    import or a pickling prints is not the answer."""
    answer_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    return answer_fd


def capture_in_fork(namespace, workdir, max_bytes):
    """The capture's answer, as bytes, from a fork that ends with it
    (killed after CAPTURE_SECONDS)."""
    import json
    import select
    import signal
    import time
    readable_fd, writable = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(readable_fd)
            silenced()
            write_all(writable, json.dumps(capture(namespace, workdir, max_bytes)).encode("ascii"))
        finally:
            os._exit(0)
    os.close(writable)
    deadline = time.monotonic() + CAPTURE_SECONDS
    chunks, error = [], None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([readable_fd], [], [], left)[0]:
                error = "the capture took longer than %d ms and was stopped" % (CAPTURE_SECONDS * 1000)
                break
            chunk = os.read(readable_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(readable_fd)
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(child, 0)
    reply = b"".join(chunks)
    if error is None and not reply:
        error = "the capture ended without an answer (%s)" % describe_status(status)
    if error is not None:
        reply = json.dumps({"error": {"reason": "failed", "message": error}}).encode("ascii")
    return reply


def describe_status(status):
    if os.WIFSIGNALED(status):
        return "killed by signal %d" % os.WTERMSIG(status)
    return "exit status %d" % os.WEXITSTATUS(status)


# Restore


def load_plain(data):
    """The outer state: plain data only, so no class is looked up (a
    state made to run code at loading runs none here)."""
    import io
    import pickle

    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError("the state names %s.%s" % (module, name))
    state = Plain(io.BytesIO(data)).load()
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise ValueError("not a session state of version %d" % VERSION)
    return state


def load_names(state, namespace, needed):
    """The names, with the modules their classes come from added to
    `needed` (kept in sys.modules)."""
    with_dill = state.get("serializer") == "dill"
    if with_dill:
        import dill
        base = dill.Unpickler
    else:
        import pickle
        base = pickle.Unpickler
    make_function = function_maker(namespace)

    class Loader(base):
        def find_class(self, module, name):
            if module == FUNCTIONS_MODULE and name == "function":
                return make_function
            if not module.startswith("dill"):  # dill's own: for loading only
                needed.add(module)
            return super().find_class(module, name)
    loader = Loader(io.BytesIO(state["names"]))
    if with_dill:
        # A function's globals pickled as __main__'s are this namespace.
        loader._main = main_of(namespace)
    names = loader.load()
    if not isinstance(names, dict):
        raise ValueError("the names are not a dict")
    return names


def function_maker(namespace):
    """What pickle_dumps' functions are loaded with: each made again from
    its code, with `namespace` as its globals."""
    import marshal
    import types

    def make_function(code, name, qualname, defaults, kwdefaults, closure, doc, annotations, attributes):
        if closure is not None:
            closure = tuple(types.CellType(*cell) for cell in closure)
        function = types.FunctionType(marshal.loads(code), namespace, name, defaults, closure)
        function.__qualname__, function.__kwdefaults__, function.__doc__ = qualname, kwdefaults, doc
        function.__annotations__ = annotations
        function.__dict__.update(attributes)
        return function
    return make_function


def main_of(namespace):
    main = sys.modules.get("__main__")
    if getattr(main, "__dict__", None) is namespace:
        return main
    stand_in = type("Main", (), {})()
    stand_in.__dict__ = namespace
    return stand_in


def segments_of(path):
    """A state's path (untrusted) as bytes names; None if it is not
    relative or names '.', '..' or nothing."""
    if not isinstance(path, (str, bytes)):
        return None
    path = os.fsencode(path)
    segments = path.split(b"/")
    if b"\0" in path or any(segment in (b"", b".", b"..") for segment in segments):
        return None
    return segments


def open_folder(root_fd, segments):
    """A new descriptor of the folder at `segments`, made if missing, each
    step with O_NOFOLLOW (a link on the way is an error, never followed)."""
    fd = os.dup(root_fd)
    try:
        for name in segments:
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            next_fd = os.open(name, OPEN_FOLDER, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def place(root_fd, entry):
    """One entry of the state's files in the folder."""
    import stat
    segments = segments_of(entry.get("path"))
    if segments is None:
        raise ValueError("not a relative path")
    kind = entry.get("type")
    parent = open_folder(root_fd, segments if kind == "directory" else segments[:-1])
    try:
        if kind == "directory":
            return
        name = segments[-1]
        if kind == "symlink":
            os.symlink(os.fsencode(entry["target"]), name, dir_fd=parent)
            return
        if kind != "file":
            raise ValueError("not a file, a folder or a link")
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=parent)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError("a file that is not a regular one is in the way")
            os.ftruncate(fd, 0)
            write_all(fd, entry["data"])
            os.fchmod(fd, entry.get("mode", 0o644) & 0o777)
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def place_files(workdir, entries, not_copied):
    """The state's files in the folder; the folders' modes last, deepest
    first, so that a read-only folder is filled before it is."""
    root = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    placed, folders = 0, []
    try:
        for entry in entries:
            try:
                place(root, entry)
                placed += 1
                if entry["type"] == "directory":
                    folders.append(entry)
            except Exception as error:
                path = entry.get("path") if isinstance(entry, dict) else None
                path = readable(os.fsencode(path)) if isinstance(path, (str, bytes)) else repr(path)
                reason = error.strerror if isinstance(error, OSError) and error.strerror else describe(error)
                not_copied.append({"name": "file " + path, "reason": reason})
        for entry in reversed(folders):
            try:
                fd = open_folder(root, segments_of(entry["path"]))
                try:
                    os.fchmod(fd, entry.get("mode", 0o755) & 0o777)
                finally:
                    os.close(fd)
            except OSError:
                pass
    finally:
        os.close(root)
    return placed


def read_state(data):
    """(state, None), or (None, the error answer) when it is not one."""
    try:
        return load_plain(data), None
    except Exception as error:
        return None, {"error": {"reason": "failed", "message": "the state could not be read: " + describe(error)}}


def restore(namespace, workdir, data, needed):
    """The state's bytes loaded into the session (restore_state)."""
    state, problem = read_state(data)
    return problem or restore_state(namespace, workdir, state, needed)


def restore_state(namespace, workdir, state, needed):
    """The state loaded into the session: files, modules, then names.
    `needed` gets the modules the names need (kept in sys.modules)."""
    import importlib
    missing = object()
    not_copied = [entry for entry in state.get("notCopied", []) if isinstance(entry, dict)]
    files = place_files(workdir, state.get("files", []), not_copied)
    modules = {}
    for entry in state.get("modules", []):
        try:
            name, module = entry["name"], entry["module"]
            if not isinstance(name, str):
                raise TypeError("a name that is not a str")
            modules[name] = importlib.import_module(module)
            needed.add(module)
        except BaseException as error:
            name = entry.get("name") if isinstance(entry, dict) else entry
            not_copied.append({"name": str(name), "reason": describe(error)})
    # The modules first: a __setstate__ may use them as globals.
    before = {name: namespace.get(name, missing) for name in modules}
    namespace.update(modules)
    try:
        names = load_names(state, namespace, needed)
    except BaseException as error:
        for name, value in before.items():
            if value is missing:
                del namespace[name]
            else:
                namespace[name] = value
        return {"error": {"reason": "failed", "message": "the names could not be loaded: " + describe(error)}}
    namespace.update(names)
    return {"ok": {"names": len(names) + len(modules), "files": files, "notCopied": not_copied}}


def restore_quietly(namespace, workdir, state, needed):
    """restore_state(), with fd 1 and 2 and sys.stdout and sys.stderr silenced
    (a __setstate__ or an import may print), then given back."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    null = open(os.devnull, "w")
    os.dup2(null.fileno(), 1)
    os.dup2(null.fileno(), 2)
    sys.stdout = sys.stderr = null
    try:
        return restore_state(namespace, workdir, state, needed)
    finally:
        sys.stdout, sys.stderr = streams
        null.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


# The session's side


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def write_all(fd, data):
    data = memoryview(data)
    while data:
        data = data[os.write(fd, data):]


def import_tools(state):
    """What a restore imports for itself, before it loads anything: dill
    only for a state that needs it."""
    import importlib, marshal, pickle  # noqa: F401
    if state.get("serializer") == "dill":
        try:
            import dill  # noqa: F401
        except Exception:
            pass


def serve_in_session(namespace, workdir, files):
    """One request from fd 0, its answer on fd 1. The session keeps no
    module this imported for itself (json, dill and theirs), but keeps
    those a restore imported for the state: the modules its names come
    from, and theirs."""
    modules = set(sys.modules)
    needed = set()
    try:
        import json
        try:
            request = json.loads(read_all(0) or b"{}")
            method = request.get("method")
            if method == "capture":
                reply = capture_in_fork(namespace, workdir, int(request.get("maxBytes", 0)))
            elif method == "restore":
                state, answer = read_state(files.get("state", b""))
                if state is not None:
                    import_tools(state)
                    tools = set(sys.modules)
                    try:
                        answer = restore_quietly(namespace, workdir, state, needed)
                    finally:
                        modules |= set(sys.modules) - tools
                reply = json.dumps(answer).encode("ascii")
            else:
                raise ValueError("unknown method %r" % (method,))
        except BaseException as error:
            # Whatever happened, one answer (a fork that could not start, a bad state).
            reply = json.dumps({"error": {"reason": "failed", "message": describe(error)}}).encode("ascii")
        write_all(1, reply)
    finally:
        # A tool the state's names need too (a class of json's) stays.
        kept = {name.partition(".")[0] for name in needed}
        for name in set(sys.modules) - modules:
            if name.partition(".")[0] not in kept:
                del sys.modules[name]


if "SESSION_WORKDIR" in globals():
    serve_in_session(SESSION_NAMESPACE, SESSION_WORKDIR, SESSION_FILES)  # noqa: F821 (session.py sets them)
