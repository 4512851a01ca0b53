"""A session's files API (PROTOCOL.md §4.16): list, read, write and remove
in its working folder, done by the session itself because the folder is in
its sandbox.

It reads one request, JSON on stdin ({"method", "path", "maxBytes",
"maxEntries"}; a write's content is SESSION_FILES["content"]), and writes
one JSON answer on stdout: {"ok": {...}} or {"error": {"reason",
"message"}}. session.py executes it in the session's own process with
SESSION_WORKDIR, SESSION_FILES and SESSION_NAMESPACE.

The session's program may have put anything in the folder, and may still
be running (a thread, a child process) while this works: no symbolic link
is ever followed, on the way or at the end. Each folder is opened from its
parent's descriptor with O_NOFOLLOW, so a link swapped in between two
steps is refused, not followed.
"""
import os
import sys

OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

MESSAGES = {
    "notFound": "'%s' does not exist",
    "notADirectory": "'%s' is not a folder",
    "isADirectory": "'%s' is a folder",
    "symlink": "'%s' is a symbolic link, which is never followed",
    "notRegularFile": "'%s' is not a regular file",
    "noSpace": "no space left for '%s'",
    "badPath": "'%s' is not a relative path of plain names",
}


class Refusal(Exception):
    """An answer's error: a reason the service knows, about `path`."""

    def __init__(self, reason, path, message=None, **extra):
        super().__init__(message or MESSAGES[reason] % path)
        self.reason, self.extra = reason, extra

    def answer(self):
        return {"error": dict({"reason": self.reason, "message": str(self)}, **self.extra)}


def refusal_for(error, path):
    """An OSError as the answer's reason."""
    import errno
    reasons = {errno.ENOENT: "notFound", errno.ENOTDIR: "notADirectory", errno.EISDIR: "isADirectory",
               errno.ELOOP: "symlink", errno.ENOSPC: "noSpace", errno.EDQUOT: "noSpace"}
    reason = reasons.get(error.errno)
    if reason is None:
        return Refusal("failed", path, "'%s': %s" % (path, error.strerror or error))
    return Refusal(reason, path)


def segments_of(path, empty_is_folder=False):
    """The path's names; the service checked it, and so does this."""
    if not isinstance(path, str):
        raise Refusal("badPath", path)
    if path == "" and empty_is_folder:
        return []
    segments = path.split("/")
    if "\0" in path or any(segment in ("", ".", "..") for segment in segments):
        raise Refusal("badPath", path)
    try:
        path.encode("utf-8")  # a lone surrogate would name bytes the client never saw
    except UnicodeEncodeError:
        raise Refusal("badPath", path) from None
    return segments


def kind_at(dir_fd, name):
    """'symlink', 'directory', ... of `name` in the folder, or None if absent."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    return type_name(mode)


def type_name(mode):
    import stat
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def open_folder(root_fd, segments, create=False):
    """A new descriptor of the folder at `segments` under `root_fd`, each
    step with O_NOFOLLOW; missing folders made when `create`."""
    fd = os.dup(root_fd)
    try:
        for index, name in enumerate(segments):
            shown = "/".join(segments[:index + 1])
            try:
                next_fd = os.open(name, OPEN_FOLDER, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise Refusal("notFound", shown) from None
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # made meanwhile: opened below as any folder is
                except OSError as error:
                    raise refusal_for(error, shown) from None
                next_fd = open_step(fd, name, shown)
            except OSError as error:
                raise step_refusal(fd, name, shown, error) from None
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_step(fd, name, shown):
    try:
        return os.open(name, OPEN_FOLDER, dir_fd=fd)
    except OSError as error:
        raise step_refusal(fd, name, shown, error) from None


def step_refusal(fd, name, shown, error):
    # O_NOFOLLOW|O_DIRECTORY on a link says ELOOP or ENOTDIR: lstat tells which it is.
    import errno
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        try:
            kind = kind_at(fd, name)
        except OSError:
            kind = None
        return Refusal("symlink" if kind == "symlink" else "notADirectory", shown)
    return refusal_for(error, shown)


def escaped_name(name):
    """(name, not UTF-8): bytes that are not UTF-8 shown as \\xNN, as
    returned_files.py shows them."""
    try:
        name.encode("utf-8")
        return name, False
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace"), True


def list_folder(root_fd, path, max_entries):
    segments = segments_of(path, empty_is_folder=True)
    fd = open_folder(root_fd, segments)
    try:
        with os.scandir(fd) as found:
            names = sorted((entry.name for entry in found), key=os.fsencode)
        entries, truncated = [], False
        for name in names:
            if len(entries) >= max_entries:
                truncated = True
                break
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since it was listed
            shown, not_utf8 = escaped_name(name)
            entry = {"name": shown, "type": type_name(info.st_mode), "size": info.st_size,
                     "modifiedMs": info.st_mtime_ns // 1000000}
            if not_utf8:
                entry["nameNotUTF8"] = True
            entries.append(entry)
        return {"entries": entries, "truncated": truncated}
    finally:
        os.close(fd)


def read_file(root_fd, path, max_bytes):
    import stat
    segments = segments_of(path)
    parent = open_folder(root_fd, segments[:-1])
    try:
        # lstat first: a device or a FIFO is not even opened.
        kind = kind_at(parent, segments[-1])
        if kind is None:
            raise Refusal("notFound", path)
        if kind != "file":
            raise Refusal({"directory": "isADirectory", "symlink": "symlink"}.get(kind, "notRegularFile"), path)
        try:
            # O_NONBLOCK: a FIFO swapped in since the lstat cannot block the open or the read.
            fd = os.open(segments[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
        except OSError as error:
            raise refusal_for(error, path) from None
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Refusal("isADirectory", path)
        if not stat.S_ISREG(info.st_mode):
            raise Refusal("notRegularFile", path)
        if info.st_size > max_bytes:
            raise too_large(path, info.st_size, max_bytes)
        chunks, size = [], 0
        while size <= max_bytes and (chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise too_large(path, size, max_bytes)  # it grew since the fstat
    data = b"".join(chunks)
    try:
        return {"size": size, "text": data.decode("utf-8")}
    except UnicodeDecodeError:
        import binascii
        return {"size": size, "base64": binascii.b2a_base64(data, newline=False).decode("ascii")}


def too_large(path, size, limit):
    return Refusal("tooLarge", path, "'%s' is %d bytes, more than %d" % (path, size, limit), size=size, limit=limit)


def write_file(root_fd, path, content):
    import stat
    segments = segments_of(path)
    if not isinstance(content, (bytes, bytearray)):
        raise Refusal("failed", path, "no content came for '%s'" % path)
    parent = open_folder(root_fd, segments[:-1], create=True)
    name, created = segments[-1], False
    try:
        kind = kind_at(parent, name)
        if kind is not None and kind != "file":
            raise Refusal({"directory": "isADirectory", "symlink": "symlink"}.get(kind, "notRegularFile"), path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            # O_EXCL first, to know whether it is new; O_NONBLOCK: a FIFO
            # swapped in meanwhile is not waited on (fstat refuses it).
            try:
                fd = os.open(name, flags | os.O_EXCL, 0o644, dir_fd=parent)
                created = True
            except FileExistsError:
                fd = os.open(name, flags, 0o644, dir_fd=parent)
        except OSError as error:
            raise refusal_for(error, path) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Refusal("notRegularFile", path)
            os.ftruncate(fd, 0)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        except OSError as error:
            if created:
                remove_quietly(parent, name)  # no half file the client did not ask for
            raise refusal_for(error, path) from None
        finally:
            os.close(fd)
    finally:
        os.close(parent)
    return {"size": len(content), "created": created}


def remove_quietly(dir_fd, name):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def remove_path(root_fd, path):
    segments = segments_of(path)
    parent = open_folder(root_fd, segments[:-1])
    name = segments[-1]
    try:
        kind = kind_at(parent, name)
        if kind is None:
            raise Refusal("notFound", path)
        try:
            if kind == "directory":
                # rmtree by descriptors: a link inside is removed, never walked.
                import shutil
                shutil.rmtree(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
        except OSError as error:
            raise refusal_for(error, path) from None
    finally:
        os.close(parent)
    return {"removed": kind}


def answer(request, workdir, files):
    """The answer to one request, as a dict; never raises."""
    path = request.get("path", "") if isinstance(request, dict) else None
    try:
        if not isinstance(request, dict):
            raise Refusal("failed", "", "the request was not understood")
        method = request.get("method")
        root_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if method == "list":
                return {"ok": list_folder(root_fd, path, max(0, int(request.get("maxEntries", 1000))))}
            if method == "read":
                return {"ok": read_file(root_fd, path, max(0, int(request.get("maxBytes", 0))))}
            if method == "write":
                content = files.get("content", files.get(path))
                return {"ok": write_file(root_fd, path, content)}
            if method == "remove":
                return {"ok": remove_path(root_fd, path)}
            raise Refusal("failed", path, "unknown method %r" % (method,))
        finally:
            os.close(root_fd)
    except Refusal as refusal:
        return refusal.answer()
    except OSError as error:
        return refusal_for(error, path).answer()
    except Exception as error:
        return {"error": {"reason": "failed", "message": ("%s: %s" % (type(error).__name__, error))[:200]}}


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def serve_in_session(workdir, files):
    """One request from fd 0, its answer on fd 1; the session keeps no
    module this imported."""
    modules = set(sys.modules)
    try:
        import json
        try:
            request = json.loads(read_all(0) or b"{}")
        except ValueError:
            request = None
        write_all(1, json.dumps(answer(request, workdir, files)).encode("ascii"))
    finally:
        for name in set(sys.modules) - modules:
            del sys.modules[name]


if "SESSION_WORKDIR" in globals():
    serve_in_session(SESSION_WORKDIR, SESSION_FILES)  # noqa: F821 (session.py sets them)
