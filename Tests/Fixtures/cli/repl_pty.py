#!/usr/bin/env python3
"""Drives `sandbox repl` through a real pseudo-terminal, as a person would.

Usage: repl_pty.py SANDBOX_BINARY URL [terminate | narrow | assist]
With "terminate", only SIGTERM during a running snippet is checked; with
"narrow", only a line longer than a 40-column terminal is wide, edited,
with the screen rendered by pyte (Debian's python3-pyte); with "assist",
only what the service decides at the prompt: Tab's completions from the
session and continuation lines with their indentation (pyte too).
Prints "all checks passed" and exits 0, or prints the transcript and exits 1.
"""
import os
import pty
import re
import select
import fcntl
import signal
import struct
import sys
import termios
import time

sandbox, url = sys.argv[1], sys.argv[2]
scenario = sys.argv[3] if len(sys.argv) > 3 else "person"
pid, terminal = pty.fork()
if pid == 0:
    os.execv(sandbox, [sandbox, "repl", "--url", url])
COLUMNS = 40 if scenario == "narrow" else 80
fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))

transcript = b""
position = 0  # where the next expectation starts looking


def fail(why):
    print(f"FAILED: {why}\n--- transcript ---\n{transcript.decode(errors='replace')}")
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    sys.exit(1)


def expect(pattern, timeout=30):
    """Waits until the output after the last match matches `pattern` (bytes regex)."""
    global transcript, position
    deadline = time.monotonic() + timeout
    while True:
        match = re.compile(pattern).search(transcript, position)
        if match:
            position = match.end()
            return match
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"no {pattern!r} within {timeout} s")
        ready, _, _ = select.select([terminal], [], [], left)
        if ready:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                fail(f"the terminal closed before {pattern!r}")
            transcript += chunk


def send(data):
    os.write(terminal, data)


def wait_for_exit(after):
    """The REPL's wait status, once it has exited; the terminal is read meanwhile."""
    global transcript
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        try:
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                transcript += os.read(terminal, 4096)
        except OSError:
            time.sleep(0.1)
    fail(f"sandbox repl did not exit after {after}")


PROMPT = rb">>> "
expect(PROMPT, timeout=60)

if scenario == "narrow":
    # Typed past the right edge, then edited on the first of its rows: the
    # screen must show the line once, whole, over two rows, and its output.
    import pyte
    send(b"print('abcdefghij' * 2, 'klmnopqrstuvwxyz' * 2, 'end')")
    send(b"\x1b[D" * 6 + b"'mid', ")
    send(b"\x01" + b"\x1b[C" * 5 + b"\x05\r")
    expect(rb"mid end\r\n")
    expect(PROMPT)
    screen = pyte.Screen(COLUMNS, 24)
    pyte.ByteStream(screen).feed(transcript)
    rows = [row.rstrip() for row in screen.display]
    typed = ">>> print('abcdefghij' * 2, 'klmnopqrstuvwxyz' * 2, 'mid', 'end')"
    printed = "abcdefghijabcdefghij klmnopqrstuvwxyzklmnopqrstuvwxyz mid end"
    first = next((i for i, row in enumerate(rows) if row.startswith(">>> print(")), None)
    if first is None or "".join(screen.display[first:first + 2]).rstrip() != typed:
        fail("the screen does not show the typed line whole:\n" + "\n".join(rows))
    if "".join(screen.display[first + 2:first + 4]).rstrip() != printed or rows[first + 4] != ">>>":
        fail("the output is not right below the line:\n" + "\n".join(rows))
    if any(row for row in rows[first + 5:]):
        fail("rows below the prompt were left drawn:\n" + "\n".join(rows))
    print("all checks passed")
    sys.exit(0)

if scenario == "assist":
    # Tab completes from the session (code/complete); Enter asks the service
    # whether the block is whole (code/isComplete), and a continuation line
    # starts at the block's indentation.
    import pyte

    def screen():
        rendered = pyte.Screen(COLUMNS, 24)
        pyte.ByteStream(rendered).feed(transcript)
        return rendered, [row.rstrip() for row in rendered.display]

    def shown(rows):
        return "\n".join(rows)

    # A prompt on a row of its own: PROMPT alone also matches the line's
    # redrawing as it is typed ("\r>>> my_va").
    NEW_PROMPT = rb"\r\n>>> "

    send(b"my_variable = 1\r")
    expect(NEW_PROMPT)
    send(b"my_va\t")
    expect(rb">>> my_variable\x1b\[K")
    send(b"\r")
    expect(rb"\r\n1\r\n>>> ")

    send(b"import math\r")
    expect(NEW_PROMPT)
    send(b"math.sq\t")
    expect(rb">>> math\.sqrt\x1b\[K")
    send(b"(16)\r")
    expect(rb"\r\n4\.0\r\n>>> ")

    # Several matches: listed below the line, what they share inserted.
    send(b"my_alpha = my_alps = 2\r")
    expect(NEW_PROMPT)
    send(b"my_a\t")
    expect(rb"my_alpha  my_alps\r\n")
    expect(rb">>> my_alp\x1b\[K")
    _, rows = screen()
    at = rows.index("my_alpha  my_alps")
    if rows[at - 1] != ">>> my_alp" or rows[at + 1] != ">>> my_alp":
        fail("the matches are not listed between the line and its redrawing:\n" + shown(rows))
    send(b"s\r")
    expect(rb"\r\n2\r\n>>> ")

    # Tab after only spaces (none here: Ctrl-U took the typed indentation) still indents.
    send(b"if True:\r")
    expect(rb"\.\.\.     \x1b\[K")
    send(b"\x15\tprint('in')\r")
    expect(rb"\.\.\.     \x1b\[K")
    send(b"\r")
    expect(rb"\r\nin\r\n>>> ")

    # A block: the continuation line starts with its 4 spaces typed; the
    # body keeps them, and an empty line (those spaces alone) runs the loop.
    send(b"for i in range(2):\r")
    expect(rb"\.\.\.     \x1b\[K")
    rendered, rows = screen()
    if rendered.cursor.x != 8 or rows[rendered.cursor.y] != "...":
        fail(f"the continuation line does not start 4 spaces in (cursor at column {rendered.cursor.x}):\n" + shown(rows))
    send(b"print(i * 10)\r")
    expect(rb"\.\.\.     \x1b\[K")
    send(b"\r")
    expect(rb"\r\n0\r\n10\r\n>>> ")
    _, rows = screen()
    loop = rows.index(">>> for i in range(2):")
    if rows[loop + 1:loop + 6] != ["...     print(i * 10)", "...", "0", "10", ">>>"]:
        fail("the block and its output are not as typed and run:\n" + shown(rows))

    # A syntax error no line can mend runs, and the run reports it.
    send(b"x = )\r")
    expect(rb"SyntaxError")
    expect(NEW_PROMPT)
    print("all checks passed")
    sys.exit(0)

if scenario == "terminate":
    # SIGTERM while a snippet runs: the session is closed (the test checks
    # that nothing of it is left), the terminal is as it was, the status 143.
    send(b"while True: pass\r\r")
    time.sleep(1.5)
    os.kill(pid, signal.SIGTERM)
    status = wait_for_exit("SIGTERM")
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 128 + signal.SIGTERM:
        fail(f"exit status {status:#x}, not 143")
    lflag = termios.tcgetattr(terminal)[3]
    if not (lflag & termios.ECHO and lflag & termios.ICANON and lflag & termios.ISIG):
        fail(f"the terminal was left raw (lflag {lflag:#o})")
    print("all checks passed")
    sys.exit(0)

send(b"x = 41\r")
expect(PROMPT)
send(b"print(x + 1)\r")
expect(rb"\r\n42\r\n")
expect(PROMPT)

# A block continues on '... ' lines until an empty line.
send(b"def double(n):\r")
expect(rb"\.\.\. ")
send(b"\treturn n * 2\r")
expect(rb"\.\.\. ")
send(b"\r")
expect(PROMPT)
send(b"double(x)\r")
expect(rb"\r\n82\r\n")
expect(PROMPT)

# An expression alone shows its value.
send(b"x\r")
expect(rb"\r\n41\r\n")
expect(PROMPT)

# A snippet that reads stdin gets the lines typed while it runs (edited as
# at the prompt); Ctrl-D ends its input.
send(b"name = input('name? ')\r")
expect(rb"\r\nname\? ")  # the program's prompt, on the row after the line's echo
send(b"Adx\x7fa\r")
expect(rb"name\? Ada\x1b\[K\r\n")  # typed after the program's prompt
expect(PROMPT)
send(b"print(name.upper())\r")
expect(rb"\r\nADA\r\n")
expect(PROMPT)
send(b"import sys; print(len(sys.stdin.read().split()))\r")
send(b"one two\r")
send(b"\x04")
expect(rb"\r\n2\r\n")
expect(PROMPT)

# Ctrl-C interrupts a snippet; the session and its names stay. (The
# service's code/isComplete runs a one-line compound statement at once.)
send(b"while True: pass\r")
time.sleep(1.5)
send(b"\x03")
expect(rb"KeyboardInterrupt")
expect(PROMPT)
send(b"print(x)\r")
expect(rb"\r\n41\r\n")
expect(PROMPT)

# Editing: Up recalls the last line; Left and Backspace edit inside it.
send(b"\x1b[A")
expect(rb"print\(x\)")
send(b"\x1b[D\x7fy\r")  # print(x) -> print(y): NameError, the session stays
expect(rb"NameError")
expect(PROMPT)

# Ctrl-C at the prompt drops the line.
send(b"print('dropped')\x03")
expect(rb"\^C\r\n")
expect(PROMPT)

# A session that ends by itself is replaced by a new, empty one.
send(b"import os; os._exit(3)\r")
expect(rb"the session ended \(crashed\)")
expect(rb"a new session is open")
expect(PROMPT)
send(b"print(x)\r")
expect(rb"NameError")
expect(PROMPT)

# Ctrl-D at an empty line closes the session and exits 0.
send(b"\x04")
status = wait_for_exit("Ctrl-D")
if b"dropped\r\n" in transcript.replace(b"print('dropped')", b""):
    fail("the line dropped with Ctrl-C ran")
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    fail(f"exit status {status:#x}, not 0")
print("all checks passed")
