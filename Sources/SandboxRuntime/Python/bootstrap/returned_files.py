"""`returnFiles`, a part of the bootstrap (see sandbox_site.py): the
workdir walked without following links, matches read with O_NOFOLLOW,
sent back as a `files` frame.
"""
import os

MAX_RETURNED_FILES = 1000  # RunRequest.maxReturnedFiles

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

