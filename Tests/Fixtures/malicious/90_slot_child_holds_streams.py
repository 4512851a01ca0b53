# expect: ok
# require: PARENT: done
# A child keeps the run's stdout and stderr open and sleeps, in the program's own process group and in a new session, after the program has ended: the run ends with its program, and no child outlives it to hold its slot or its pipes.
import os
import time

for new_session in (False, True):
    if os.fork() == 0:
        if new_session:
            os.setsid()
        time.sleep(1000)
        print("ESCAPED: the child outlived the run")
        os._exit(0)
print("PARENT: done", flush=True)
