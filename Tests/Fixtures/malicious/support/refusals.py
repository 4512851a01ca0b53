"""Shared by the fixtures that try file operations one by one; the test places it beside main.py."""
import errno


def why(error):
    """An OSError as its errno's name."""
    return errno.errorcode.get(error.errno, error.errno) if error.errno else type(error).__name__


def refused(label, action):
    """BLOCKED if `action` raises OSError, ESCAPED if it succeeds."""
    try:
        action()
    except OSError as error:
        print(f"BLOCKED: {label}: {why(error)}")
    else:
        print(f"ESCAPED: {label}")
