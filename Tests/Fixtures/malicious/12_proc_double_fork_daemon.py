# expect: ok
# A double-forked daemon detaches from the run, sleeps 1000 s, then tries to write into the host's /tmp.
import json
import os
import time

host = json.load(open("host.json"))
targets = [
    "/tmp/pysandbox-daemon-pwned",
    os.path.join(os.path.dirname(host["hostSecretPath"]), "daemon-pwned"),
]

pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    # The grandchild: a classic daemon, detached from the run's stdio.
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir("/")
    time.sleep(1000)
    for target in targets:
        try:
            with open(target, "w") as file:
                file.write("a daemon outlived its sandbox run\n")
        except OSError:
            pass
    os._exit(0)

os.waitpid(pid, 0)
print("daemon launched; the parent exits now and the run must take the daemon with it")
