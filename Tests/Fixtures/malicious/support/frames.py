"""Shared by the frame fixtures: the run's frame marker, found as a program
can find it (it lives in the process), and frames written with it."""
import gc
import os
import sys

PREFIX = b"\0pysandbox:"


def is_marker(value):
    """A run's marker is the prefix, a nonce and a colon (this module's own PREFIX is not one)."""
    return isinstance(value, bytes) and value.startswith(PREFIX) and len(value) > len(PREFIX) + 1 and value.endswith(b":")


def find_marker():
    """The marker: a module global of the bootstrap, or any function's globals."""
    for module in list(sys.modules.values()):
        value = getattr(module, "FRAME_MARKER", None)
        if is_marker(value):
            return value
    for obj in gc.get_objects():
        if callable(obj) and hasattr(obj, "__globals__"):
            for value in list(obj.__globals__.values()):
                if is_marker(value):
                    return value
    raise SystemExit("the frame marker was not found (the fixture is out of date)")


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def frame(marker, kind, payload):
    return marker + kind + b" %d\n" % len(payload) + payload


def send(marker, kind, payload):
    write_all(frame(marker, kind, payload))
