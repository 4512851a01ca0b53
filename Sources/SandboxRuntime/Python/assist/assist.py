"""Code assistance for editors (PROTOCOL.md §4.12-4.14): completion,
inspection and is-complete, as a Jupyter kernel answers them.

It reads one request, JSON on stdin ({"method", "code", "cursor",
"detailLevel"}), and writes one JSON answer on stdout. Run as a program,
in a sandbox of its own, names come from the code alone: the names it
binds and the modules it imports, imported here. Run by a session
(session.py executes it with SESSION_NAMESPACE, the session's `__main__`
namespace), names come from that namespace, looked up in a fork of the
session's interpreter that ends with the answer, so that nothing a lookup
does (a property, __getattr__, __dir__) changes the session.

The code being completed never runs: dotted names are looked up attribute
by attribute; nothing is called or subscripted.
"""
import os
import sys

MAX_MATCHES = 1000
MAX_TEXT_CHARS = 65536
MAX_IMPORTS = 32
# How long a session's fork may look; the service's own timeout is longer.
FORK_SECONDS = 1.0

# A dotted name ending at the cursor: "os.path.jo", "df.", "pri".
DOTTED_TAIL = r"(?:[^\W\d]\w*\s*\.\s*)*(?:[^\W\d]\w*)?\Z"


def line_before(code, cursor):
    start = code.rfind("\n", 0, cursor) + 1
    return start, code[start:cursor]


def in_string_or_comment(text):
    """Whether the end of one line's `text` is inside a string or a comment
    (a rough look at quotes: enough not to complete inside them)."""
    quote, index = None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif text.startswith(quote, index):
                index += len(quote) - 1
                quote = None
        elif char == "#":
            return True
        elif char in "'\"":
            quote = text[index:index + 3] if text[index:index + 3] in ("'''", '"""') else char
            index += len(quote) - 1
        index += 1
    return quote is not None


def dotted_name_before(code, cursor):
    """(start, parts) of the dotted name that ends at `cursor`: parts are
    the names, the last one the prefix being typed (maybe empty); None
    where nothing can be completed (in a string, after a call)."""
    line_start, text = line_before(code, cursor)
    if in_string_or_comment(text):
        return None
    import re
    match = re.search(DOTTED_TAIL, text)
    dotted = match.group(0)
    before = text[:match.start()].rstrip()
    if before.endswith(".") or (not dotted and text[-1:] in ")]}'\"."):
        return None  # an attribute of something that is not a name: a call, a literal
    if not dotted and text[-1:].isdigit():
        return None
    parts = [part.strip() for part in dotted.split(".")]
    prefix_start = line_start + len(text) - len(parts[-1])
    return prefix_start, parts


def name_at(code, cursor):
    """The dotted name around the cursor, for inspection: the one the
    cursor is in or just after; inside a call's parentheses, the called
    one (`print(x` inspects print)."""
    end = cursor
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    found = dotted_name_before(code, end)
    if found and found[1][-1]:
        return found[1]
    # The innermost open parenthesis before the cursor, on its line or earlier.
    depth, index = 0, cursor - 1
    while index >= 0:
        char = code[index]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth == 0:
                if char != "(":
                    return None
                found = dotted_name_before(code, index)
                return found[1] if found and found[1][-1] else None
            depth -= 1
        index -= 1
    return None


MISSING = object()


def static_attribute(value, name):
    """The attribute as stored, without running a descriptor, property or
    __getattr__: for its kind only."""
    try:
        own = object.__getattribute__(value, "__dict__")
        if name in own:
            return own[name]
    except Exception:
        pass
    try:
        mro = type.__getattribute__(value if isinstance(value, type) else type(value), "__mro__")
    except Exception:
        return MISSING
    for klass in mro:
        try:
            stored = type.__getattribute__(klass, "__dict__")
        except Exception:
            continue
        if name in stored:
            return stored[name]
    return MISSING


def kind_of(value):
    if value is MISSING:
        return "instance"
    if isinstance(value, type(sys)):
        return "module"
    if isinstance(value, type):
        return "class"
    if isinstance(value, (staticmethod, classmethod)) or callable(value) and not isinstance(value, property):
        return "function"
    return "instance"


def look_up(namespace, names):
    """The value of a dotted name: the first from the namespace (or the
    builtins), the rest attribute by attribute. LookupError if absent."""
    import builtins
    first = names[0]
    if first in namespace:
        value = namespace[first]
    elif hasattr(builtins, first):
        value = getattr(builtins, first)
    else:
        raise LookupError(first)
    for name in names[1:]:
        value = getattr(value, name)
    return value


def complete(code, cursor, namespace):
    import builtins
    import keyword
    found = dotted_name_before(code, cursor)
    answer = {"matches": [], "cursorStart": cursor, "cursorEnd": cursor, "metadata": {}}
    if found is None:
        return answer
    start, parts = found
    prefix = parts[-1]
    answer["cursorStart"] = start
    hidden = not prefix.startswith("_")
    if len(parts) == 1:
        if not prefix:
            return answer  # nothing typed: every name would be noise
        kinds = {}
        for name in dir(builtins):
            kinds[name] = kind_of(getattr(builtins, name))
        for name, value in list(namespace.items()):
            kinds[name] = kind_of(value)
        for name in keyword.kwlist + keyword.softkwlist:
            kinds[name] = "keyword"
    else:
        try:
            value = look_up(namespace, parts[:-1])
            names = dir(value)
        except Exception as error:
            answer["metadata"]["error"] = "could not look up %s: %s" % (".".join(parts[:-1]), describe(error))
            return answer
        # dir() is the object's to answer: anything but names is dropped.
        kinds = {name: None for name in list(names)[:100000] if isinstance(name, str)}
    matches = sorted(name for name in kinds
                     if name.startswith(prefix) and not (hidden and name.startswith("_")) and name.isidentifier())
    matches = matches[:MAX_MATCHES]
    if len(parts) > 1:
        for name in matches:
            kinds[name] = kind_of(static_attribute(value, name))
    answer["matches"] = matches
    answer["metadata"]["types"] = [kinds[name] for name in matches]
    return answer


def describe(error):
    text = "%s: %s" % (type(error).__name__, error)
    return text if len(text) <= 200 else text[:199] + "…"


def inspect_name(code, cursor, namespace, detail_level):
    names = name_at(code, cursor)
    if not names:
        return {"found": False, "data": {}, "metadata": {}}
    dotted = ".".join(names)
    try:
        value = look_up(namespace, names)
    except Exception as error:
        metadata = {} if isinstance(error, (LookupError, AttributeError)) else {"error": describe(error)}
        return {"found": False, "data": {}, "metadata": metadata}
    import inspect
    lines = ["%s: %s" % (dotted, type(value).__name__)]
    try:
        lines.append("Signature: %s%s" % (dotted, inspect.signature(value)))
    except (TypeError, ValueError):
        pass
    except Exception as error:
        lines.append("Signature: (%s)" % describe(error))
    try:
        doc = inspect.getdoc(value)
    except Exception:
        doc = None
    if isinstance(value, (int, float, complex, str, bytes, bool, list, tuple, dict, set)) or kind_of(value) == "instance":
        try:
            text = repr(value)
            lines.append("Value: " + (text if len(text) <= 2000 else text[:1999] + "…"))
        except Exception:
            pass
        if doc == inspect.getdoc(type(value)):
            doc = None  # an instance's docstring is its class's: not about this value
    if doc:
        lines += ["", doc]
    if detail_level >= 1:
        try:
            lines += ["", "Source:", inspect.getsource(value)]
        except Exception:
            pass
    text = "\n".join(lines)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS - 1] + "…"
    return {"found": True, "data": {"text/plain": text}, "metadata": {}}


def is_complete(code):
    import codeop
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = codeop.compile_command(code, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError, MemoryError, RecursionError):
        return {"status": "invalid"}
    lines = code.split("\n")
    last = lines[-1]
    if compiled is None:
        return {"status": "incomplete", "indent": next_indent(lines)}
    # As at Python's prompt: a block goes on until an empty line ends it.
    if len(lines) > 1 and last.strip() and last[:1] in " \t":
        return {"status": "incomplete", "indent": next_indent(lines)}
    return {"status": "complete"}


def next_indent(lines):
    for line in reversed(lines):
        if line.strip():
            indent = len(line) - len(line.lstrip(" \t"))
            body = line.split("#", 1)[0].rstrip()
            return " " * (indent + (4 if body.endswith(":") else 0))
    return ""


def namespace_of(code):
    """The names the code binds, with the modules it imports imported (the
    code itself does not run); a name bound to anything else is None."""
    import ast
    namespace = {}
    tree = None
    for text in (code, code[:code.rfind("\n") + 1]):
        try:
            tree = ast.parse(text)
            break
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError):
            continue
    if tree is None:
        return namespace
    imports = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and imports < MAX_IMPORTS:
            imports += 1
            bind_import(node, namespace)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            namespace.setdefault(node.name, None)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            namespace.setdefault(node.id, None)
        elif isinstance(node, ast.arg):
            namespace.setdefault(node.arg, None)
    return namespace


def bind_import(node, namespace):
    import ast
    import importlib
    try:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = importlib.import_module(alias.name)
                if alias.asname:
                    namespace[alias.asname] = module
                else:
                    top = alias.name.split(".")[0]
                    namespace[top] = sys.modules.get(top, module)
        elif node.level == 0 and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                if alias.name == "*":
                    exported = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
                    for name in list(exported)[:10000]:
                        if isinstance(name, str):
                            namespace[name] = getattr(module, name, None)
                else:
                    namespace[alias.asname or alias.name] = getattr(module, alias.name, None)
    except BaseException:
        for alias in node.names:
            if alias.name != "*":
                namespace.setdefault((alias.asname or alias.name).split(".")[0], None)


def answer(request, namespace):
    method = request.get("method")
    code = request.get("code", "")
    cursor = request.get("cursor", len(code))
    if method == "isComplete":
        return is_complete(code)
    if method == "complete":
        return complete(code, cursor, namespace)
    if method == "inspect":
        return inspect_name(code, cursor, namespace, request.get("detailLevel", 0))
    return {"error": "unknown method %r" % (method,)}


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def silenced():
    """fd 1 and 2 to /dev/null, and a copy of fd 1 for the answer: what an
    import or a lookup prints is not the answer."""
    answer_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    return answer_fd


def serve_alone():
    """In a sandbox of its own: names from the code."""
    import json
    request = json.loads(read_all(0) or b"{}")
    answer_fd = silenced()
    if request.get("method") in ("complete", "inspect"):
        namespace = namespace_of(request.get("code", ""))
    else:
        namespace = {}
    reply = answer(request, namespace)
    reply.setdefault("metadata", {})
    if request.get("method") != "isComplete":
        reply["metadata"]["source"] = "code"
    else:
        reply.pop("metadata")
    write_all(answer_fd, json.dumps(reply).encode("utf-8"))


def serve_in_session(namespace):
    """In a session: names from its namespace, looked up in a fork that
    ends with the answer (killed after FORK_SECONDS). The session's side
    only passes bytes along and imports nothing it keeps."""
    modules = set(sys.modules)
    import select
    import signal
    import time
    request = read_all(0)
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            import json
            os.close(readable)
            silenced()
            reply = answer(json.loads(request or b"{}"), namespace)
            write_all(writable, json.dumps(reply).encode("utf-8"))
        finally:
            os._exit(0)
    os.close(writable)
    deadline = time.monotonic() + FORK_SECONDS
    chunks, error = [], None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([readable], [], [], left)[0]:
                error = "the lookup took longer than %d ms and was stopped" % (FORK_SECONDS * 1000)
                break
            chunk = os.read(readable, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(readable)
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(child, 0)
        for name in set(sys.modules) - modules:
            del sys.modules[name]
    reply = b"".join(chunks)
    if error is None and not reply:
        error = "the lookup ended without an answer (%s)" % describe_status(status)
    if error is not None:
        # The service makes the empty answer; only the reason is ours.
        reply = b'{"metadata": {"error": "%s"}}' % error.encode("ascii")
    write_all(1, reply)


def describe_status(status):
    if os.WIFSIGNALED(status):
        return "killed by signal %d" % os.WTERMSIG(status)
    return "exit status %d" % os.WEXITSTATUS(status)


if __name__ == "__main__":
    serve_alone()
elif "SESSION_NAMESPACE" in globals():
    serve_in_session(SESSION_NAMESPACE)  # noqa: F821 (session.py sets it)
