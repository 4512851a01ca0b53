# expect: ok
# require: BLOCKED: descriptors
# require: BLOCKED: capabilities
# require: BLOCKED: parent
# A run (or a session's cell) looks for a way back to what made it: descriptors a fork server would have held (its control socket on 3, its library on 5, the seccomp program on 6), capabilities it needed for each run's namespaces, its process, and the slot's processes in /proc.
import ctypes
import os

from own_processes import own_processes

found = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        found.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    except OSError:
        pass
# In a session (no main.py is written) fd 3 is the session's own request
# channel, from the service, which never reads it: written to, it changes
# nothing (the cell still ends as it should). In a run, fd 3 is the pipe its
# request came on, and in a session fd 4 the cell's: pip's answers from the
# service come on them. Read ends: nothing can be written back that way.
in_session = not os.path.exists("main.py")
own = {3: "socket:" if in_session else "pipe:"}
if in_session:
    own[4] = "pipe:"
for fd, kind in own.items():
    entry = next((item for item in found if item.startswith(f"{fd} -> {kind}")), None)
    if entry is None:
        continue
    if kind == "pipe:":
        try:
            os.write(fd, b"forged")
            print(f"ESCAPED: wrote to fd {fd}, the service's answers")
        except OSError:
            pass
    else:
        try:
            os.write(fd, b"999999\n" + b"forged" * 1000)
        except OSError:
            pass
    found.remove(entry)
if found:
    print("ESCAPED: open descriptors beyond stdio:", found)
else:
    print("BLOCKED: descriptors: nothing open beyond 0, 1, 2 and the channels from the service" + (" (the session's)" if in_session else ""))
for path in ("/proc/self/fd/5", "/proc/self/fd/6", "/proc/1/fd/3"):
    try:
        open(path, "rb")
        print(f"ESCAPED: opened {path}")
    except OSError:
        pass
# A forked run still has the fork server's library mapped (dlopen finds it by
# name); it must fork nothing here: no capabilities, and seccomp refuses
# clone with namespace flags.
try:
    library = ctypes.CDLL("/proc/self/fd/5")
except OSError:
    library = None
if library is not None:
    if library.pysandbox_receive_run() > 0:
        print("ESCAPED: received a run")
    pid = library.pysandbox_fork_run()
    if pid == 0:
        print("ESCAPED: forked a run")
        os._exit(0)
    if pid > 0:
        print(f"ESCAPED: forked a run, pid {pid}")

status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
capabilities = {key: status[key].strip() for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
if any(int(value, 16) for value in capabilities.values()):
    print("ESCAPED: capabilities", capabilities)
else:
    print("BLOCKED: capabilities: none of any kind")
if status["NoNewPrivs"].strip() != "1":
    print("ESCAPED: no_new_privs is not set")
libc = ctypes.CDLL(None, use_errno=True)
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN = 47, 2, 21
if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) == 0:
    print("ESCAPED: raised CAP_SYS_ADMIN")

# Our parent is the run's pid 1, and nothing else of the sandbox is visible.
parent = os.getppid()

pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
# Our own children do not count (a session's snapshot of itself is one).
others = sorted(set(pids) - own_processes(pids))
if parent != 1:
    print(f"ESCAPED: our parent is {parent}, not the run's pid 1")
elif others:
    print("ESCAPED: other processes in /proc:", others)
else:
    print("BLOCKED: parent: the run's pid 1, invisible in /proc; no other process to see")
try:
    open("/proc/1/mem", "rb").read(1)
    print("ESCAPED: read pid 1's memory")
except OSError:
    pass
