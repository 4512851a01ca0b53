# expect: ok
# cpu-at-least: 600
# Leaves a child burning CPU when the program exits: it dies with the run, and its CPU time still counts.
# require: leaving
import os
import time

if os.fork() == 0:
    while True:
        pass
time.sleep(1)
print("leaving")
