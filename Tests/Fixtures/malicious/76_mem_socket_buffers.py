# expect: memoryLimit|killed|error
# Eight processes each fill unix socket pairs until the kernel refuses more (about 56 MiB of queued data each, in kernel memory no process maps and no rlimit counts), under a 128 MiB limit for the run.
import os
import socket
import time

from children import exit_with


def fill():
    held, sockets = 0, []
    try:
        while True:
            pair = socket.socketpair()
            sockets.append(pair)
            for end in pair:
                end.setblocking(False)
                try:
                    while True:
                        held += end.send(b"x" * 65536)
                except BlockingIOError:
                    pass
    except OSError:
        pass
    return held, sockets


children = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        held, sockets = fill()
        print(f"holds {held >> 20} MiB in socket buffers", flush=True)
        time.sleep(1.5)
        os._exit(0)
    children.append(pid)
exit_with(children, "eight processes held their socket buffers under a 128 MiB limit")
