# expect: killed
# Games a session's rollback (sandbox/steps/rollback.c): a child named as the
# snapshot is, busy, to be adopted in its place; SIGUSR2 to every process so
# named, pid 1's word to go on, to make the real snapshot go on early; a
# daemon in a session of its own; then the interpreter kills itself. However
# the rollback goes, nothing may outlive the session or use CPU past its limits.
import os
import signal
import time

impostor = os.fork()
if impostor == 0:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # pid 1's word does not end it
    with open("/proc/self/comm", "w") as comm:
        comm.write("pysandbox-snap")
    while True:
        pass

daemon = os.fork()
if daemon == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
os.waitpid(daemon, 0)

signalled = []
for name in os.listdir("/proc"):
    if not name.isdigit():
        continue
    try:
        with open(f"/proc/{name}/comm") as comm:
            if comm.read().strip() == "pysandbox-snap":
                os.kill(int(name), signal.SIGUSR2)
                signalled.append(int(name))
    except OSError:
        pass
print(f"signalled {len(signalled)} process(es) named pysandbox-snap", flush=True)
time.sleep(0.2)
os.kill(os.getpid(), signal.SIGKILL)
