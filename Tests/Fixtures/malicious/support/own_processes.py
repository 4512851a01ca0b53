"""A run's own processes: itself and its children (a session's snapshot of
itself is one, sandbox/steps/rollback.c). Fixtures that look for other
processes leave these out."""
import os


def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except (OSError, ValueError):
        return None


def own_processes(pids):
    me = os.getpid()
    return {me} | {pid for pid in pids if parent_of(pid) == me}
