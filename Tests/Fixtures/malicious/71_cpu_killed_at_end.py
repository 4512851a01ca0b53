# expect: ok
# cpu-at-least: 600
# Leaves a child burning CPU when the program exits: it dies with the run, and its CPU time still counts.
# require: leaving
import os
import time

child = os.fork()
if child == 0:
    while True:
        pass


def child_cpu_seconds():
    fields = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Until the child has burnt 0.7 s, however busy the machine (within the 3 s wall-clock limit).
deadline = time.monotonic() + 2.5
while child_cpu_seconds() < 0.7 and time.monotonic() < deadline:
    time.sleep(0.05)
print("leaving")
