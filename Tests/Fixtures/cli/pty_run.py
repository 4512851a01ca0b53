#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal (stdin, stdout and stderr all the
terminal, as for a person at one) and prints everything it wrote there, raw
(escape sequences and carriage returns included); exits with its status.

Usage: pty_run.py COMMAND [ARGUMENT...]
"""
import os
import pty
import sys

pid, terminal = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
transcript = b""
while True:
    try:
        chunk = os.read(terminal, 4096)
    except OSError:  # EIO: the command closed the terminal by exiting
        break
    if not chunk:
        break
    transcript += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(transcript.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
